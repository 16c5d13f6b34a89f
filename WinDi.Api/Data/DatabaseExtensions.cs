using System.Data.Common;
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
    /// PostgreSQL through Aspire's client integrations: one <see cref="NpgsqlDataSource"/> (tracing, metrics)
    /// shared by the pooled EF Core context and the raw Npgsql batches, and EF Core enriched with tracing and
    /// metrics. The connection string is ConnectionStrings:windi, validated on start with a message that names it.
    /// </summary>
    public static IHostApplicationBuilder AddWinDiDatabase(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>()
            .Configure<IConfiguration>((options, configuration) =>
                options.ConnectionString = configuration.GetConnectionString(ConnectionName))
            .Validate(options => !string.IsNullOrWhiteSpace(options.ConnectionString),
                $"ConnectionStrings__{ConnectionName} is required: the Npgsql connection string of the WinDi database.")
            .ValidateOnStart();

        // The integration's health check has no timeout of its own (a dead server holds /health for the whole
        // connect timeout); the one below answers within 5 s.
        builder.AddNpgsqlDataSource(ConnectionName, settings => settings.DisableHealthChecks = true, dataSource =>
        {
            PrepareRepeatedStatements(dataSource);
            ReuseConnectionsWithoutReset(dataSource);
        });
        builder.Services.AddDbContextPool<WinDiDb>((services, options) => options
            .UseNpgsql(services.GetRequiredService<NpgsqlDataSource>(), npgsql => npgsql.EnableRetryOnFailure(
                // Bounded so that a request fails within seconds while PostgreSQL is down (then 503), instead of
                // EF's default of six retries over half a minute.
                maxRetryCount: 2, maxRetryDelay: TimeSpan.FromSeconds(1), errorCodesToAdd: null))
            .UseSnakeCaseNamingConvention());
        // Keeps the retry policy above (a NpgsqlRetryingExecutionStrategy); the data source already checks health.
        builder.EnrichNpgsqlDbContext<WinDiDb>(settings => settings.DisableHealthChecks = true);

        builder.Services.AddHealthChecks().AddNpgSql(services => services.GetRequiredService<NpgsqlDataSource>(), name: "postgres", timeout: TimeSpan.FromSeconds(5));
        return builder;
    }

    /// <summary>How many statements each connection keeps prepared when the connection string does not say (Max Auto Prepare).</summary>
    public const int DefaultMaxAutoPrepare = 64;

    /// <summary>
    /// Statements run again and again (the message writer's batch above all) are prepared on each connection after a few
    /// uses, so PostgreSQL plans them once: a lone send's batch spent more time planned than executed. A connection string
    /// that names Max Auto Prepare keeps its value; 0 turns preparing off (a pooler without prepared statements).
    /// </summary>
    public static void PrepareRepeatedStatements(NpgsqlDataSourceBuilder dataSource)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = dataSource.ConnectionString };
        if (!given.ContainsKey("Max Auto Prepare"))
        {
            dataSource.ConnectionStringBuilder.MaxAutoPrepare = DefaultMaxAutoPrepare;
        }
    }

    /// <summary>
    /// A pooled connection is used again as it is, without the reset Npgsql otherwise sends first: seven statements
    /// (RESET ALL, CLOSE ALL, UNLISTEN *, DISCARD TEMP, …) that PostgreSQL parsed and ran before every batch of the writer
    /// and every query, for session state the API never leaves behind (it sets only transaction-local settings, takes only
    /// transaction-scoped locks, and opens no cursors, temporary tables or LISTEN). A connection string that names No Reset
    /// On Close keeps its value.
    /// </summary>
    public static void ReuseConnectionsWithoutReset(NpgsqlDataSourceBuilder dataSource)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = dataSource.ConnectionString };
        if (!given.ContainsKey("No Reset On Close"))
        {
            dataSource.ConnectionStringBuilder.NoResetOnClose = true;
        }
    }

    public static bool IsUniqueViolation(this DbUpdateException exception, string? constraint = null) =>
        exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } postgres
        && (constraint is null || postgres.ConstraintName == constraint);
}
