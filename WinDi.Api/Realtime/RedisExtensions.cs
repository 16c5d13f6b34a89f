using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace WinDi.Api.Realtime;

public static class RedisExtensions
{
    public const string ConnectionName = "redis";

    /// <summary>
    /// What Aspire's AddRedisClient adds, from the plain packages: one shared multiplexer that does not give
    /// up when Redis is down at start, and a health check. Redis only carries events between replicas, so
    /// an outage makes /health Degraded, not Unhealthy. Returns false when ConnectionStrings:redis is unset.
    /// </summary>
    public static bool AddRedis(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString(ConnectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return false;
        }
        builder.Services.AddSingleton<IConnectionMultiplexer>(services =>
        {
            var options = ConfigurationOptions.Parse(connectionString);
            options.AbortOnConnectFail = false;
            // Fail at once while disconnected instead of queueing: a publish that cannot go now is not worth
            // sending late (the data is in PostgreSQL and clients catch up with SYNC).
            options.BacklogPolicy = BacklogPolicy.FailFast;
            options.ClientName ??= builder.Environment.ApplicationName;
            options.LoggerFactory = services.GetRequiredService<ILoggerFactory>();
            return ConnectionMultiplexer.Connect(options);
        });
        builder.Services.AddHealthChecks().AddRedis(
            services => services.GetRequiredService<IConnectionMultiplexer>(),
            name: ConnectionName, failureStatus: HealthStatus.Degraded, timeout: TimeSpan.FromSeconds(3));
        return true;
    }
}
