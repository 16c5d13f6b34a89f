using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace WinDi.Api.Data;

public sealed class DatabaseOptions
{
    public string? ConnectionString { get; set; }
}

public static class DatabaseExtensions
{
    public const string ConnectionName = "windi";

    /// <summary>
    /// What Aspire's AddNpgsqlDbContext adds (pooled context, retries, a health check, tracing, metrics),
    /// built from the plain Npgsql packages because Aspire's client packages are not available here.
    /// The connection string is read from ConnectionStrings:windi when first needed and validated on start.
    /// </summary>
    public static IHostApplicationBuilder AddWinDiDatabase(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>()
            .Configure<IConfiguration>((options, configuration) =>
                options.ConnectionString = configuration.GetConnectionString(ConnectionName))
            .Validate(options => !string.IsNullOrWhiteSpace(options.ConnectionString),
                $"ConnectionStrings__{ConnectionName} is required: the Npgsql connection string of the WinDi database.")
            .ValidateOnStart();

        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var dataSource = new NpgsqlDataSourceBuilder(options.ConnectionString);
            dataSource.UseLoggerFactory(services.GetRequiredService<ILoggerFactory>());
            return dataSource.Build();
        });

        builder.Services.AddDbContextPool<WinDiDb>((services, options) => options
            .UseNpgsql(services.GetRequiredService<NpgsqlDataSource>(), npgsql => npgsql.EnableRetryOnFailure())
            .UseSnakeCaseNamingConvention());

        // One quick query on the shared data source, without EF's retries: a readiness probe must answer fast.
        builder.Services.AddHealthChecks().AddNpgSql(services => services.GetRequiredService<NpgsqlDataSource>(), name: "postgres", timeout: TimeSpan.FromSeconds(5));
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddNpgsql())
            .WithMetrics(metrics => metrics.AddMeter("Npgsql"));
        return builder;
    }

    public static bool IsUniqueViolation(this DbUpdateException exception, string? constraint = null) =>
        exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } postgres
        && (constraint is null || postgres.ConstraintName == constraint);
}
