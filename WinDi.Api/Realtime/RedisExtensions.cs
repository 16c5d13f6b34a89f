using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace WinDi.Api.Realtime;

public static class RedisExtensions
{
    public const string ConnectionName = "redis";

    /// <summary>
    /// Aspire's Redis client integration (one shared multiplexer, started at once, that does not give up when
    /// Redis is down at start; tracing) when ConnectionStrings:redis is set. Returns false when it is not.
    /// Redis only carries events between replicas, so an outage makes /health Degraded, not Unhealthy: the
    /// integration's own check (Unhealthy) is replaced by one that says so.
    /// </summary>
    public static bool AddRedis(this IHostApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(ConnectionName)))
        {
            return false;
        }
        // No span per Redis command: every relayed event would make one (the profiler that feeds them costs CPU on every
        // publish whether or not spans are exported); the relay's own spans ("relay publish", "relay deliver") trace it.
        builder.AddRedisClient(ConnectionName, settings =>
        {
            settings.DisableHealthChecks = true;
            settings.DisableTracing = true;
        }, options =>
        {
            // Fail at once while disconnected instead of queueing: a publish that cannot go now is not worth
            // sending late (the data is in PostgreSQL and clients catch up with SYNC).
            options.BacklogPolicy = BacklogPolicy.FailFast;
            options.ClientName ??= builder.Environment.ApplicationName;
        });
        builder.Services.AddHealthChecks().AddRedis(
            services => services.GetRequiredService<IConnectionMultiplexer>(),
            name: ConnectionName, failureStatus: HealthStatus.Degraded, timeout: TimeSpan.FromSeconds(3));
        return true;
    }
}
