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

    public static async Task Postgres(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync(cancellationToken);
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
