using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using StackExchange.Redis;

namespace WinDi.AppHost;

/// <summary>
/// Healthy once the server behind a connection string answers. For PostgreSQL a missing database still
/// counts: the server is up, and the migration worker creates the database.
/// </summary>
public sealed class ServerAnswers(IResourceWithConnectionString resource, Func<string, CancellationToken, Task> probe) : IHealthCheck
{
    /// <summary>Registers the check "NAME-answers" for <paramref name="resource"/>, so that WaitFor means "it answers".</summary>
    public static IResourceBuilder<T> For<T>(IResourceBuilder<T> resource, Func<string, CancellationToken, Task> probe)
        where T : IResourceWithConnectionString
    {
        var check = $"{resource.Resource.Name}-answers";
        resource.ApplicationBuilder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            check, _ => new ServerAnswers(resource.Resource, probe), failureStatus: null, tags: null, timeout: TimeSpan.FromSeconds(5)));
        return resource.WithHealthCheck(check);
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var connectionString = await resource.GetConnectionStringAsync(cancellationToken);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return HealthCheckResult.Unhealthy($"No connection string for '{resource.Name}' yet.");
        }
        try
        {
            await probe(connectionString, cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is NpgsqlException or RedisException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"'{resource.Name}' does not answer.", e);
        }
    }

    /// <summary>The database opens.</summary>
    public static async Task PostgresDatabase(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
    }

    /// <summary>The server answers, even if the database does not exist yet.</summary>
    public static async Task Postgres(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            await PostgresDatabase(connectionString, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            // The server answered; the database does not exist yet.
        }
    }

    public static async Task Redis(string connectionString, CancellationToken cancellationToken)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 3000;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
        await redis.GetDatabase().PingAsync();
    }
}
