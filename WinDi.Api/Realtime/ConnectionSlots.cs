using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace WinDi.Api.Realtime;

/// <summary>
/// Holds each user to <see cref="LimitsOptions.ConnectionsPerUser"/> open WebSockets across every replica.
/// With Redis, every open connection holds a lease in the sorted set <c>windi:connections:{user}</c> (member: the
/// connection id; score: when the lease ends, by Redis's clock). A closed connection gives its lease back at once;
/// each replica renews its own leases every <see cref="RenewEvery"/>, so the slots of a replica that died free
/// themselves within <see cref="LeaseLength"/>. Without Redis, or while it is down, each replica counts its own.
/// </summary>
public sealed partial class ConnectionSlots(
    ConnectionRegistry registry, IOptions<LimitsOptions> limits, ILogger<ConnectionSlots> logger, IConnectionMultiplexer? redis = null)
    : BackgroundService
{
    public static readonly TimeSpan LeaseLength = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(20);

    // Drops the leases that ended (a dead replica's), then takes one if the user has a free slot.
    private const string AcquireScript = """
        local t = redis.call('TIME')
        local now = t[1] * 1000 + math.floor(t[2] / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return 1
        """;

    // Also (re)creates a lease that Redis lost or never had (the connection opened while Redis was down).
    private const string RenewScript = """
        local t = redis.call('TIME')
        redis.call('ZADD', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[1]), ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        """;

    private readonly ConcurrentDictionary<ClientConnection, byte> open = new();
    private readonly int perUser = limits.Value.ConnectionsPerUser;
    private int outageLogged;

    public static RedisKey KeyOf(long userId) => $"windi:connections:{userId}";

    /// <summary>Takes a slot for the connection and registers it on this node; false when its user has none free.</summary>
    public async Task<bool> TryOpenAsync(ClientConnection connection)
    {
        var leased = false;
        if (redis is not null)
        {
            try
            {
                var granted = await redis.GetDatabase().ScriptEvaluateAsync(AcquireScript, [KeyOf(connection.UserId)],
                    [perUser, (long)LeaseLength.TotalMilliseconds, Member(connection)]);
                if ((long)granted == 0)
                {
                    return false;
                }
                leased = true;
                Interlocked.Exchange(ref outageLogged, 0);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                if (Interlocked.Exchange(ref outageLogged, 1) == 0)
                {
                    Log.CountingLocally(logger, e);
                }
            }
        }
        if (!registry.TryAdd(connection, perUser))
        {
            if (leased)
            {
                GiveBack(connection);
            }
            return false;
        }
        open.TryAdd(connection, 0);
        return true;
    }

    /// <summary>Unregisters the connection and gives its slot back.</summary>
    public void Close(ClientConnection connection)
    {
        registry.Remove(connection);
        // Removed before the lease is given back: a renewal that races with this sees it gone and gives it back too.
        open.TryRemove(connection, out _);
        GiveBack(connection);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (redis is null)
        {
            return;
        }
        using var timer = new PeriodicTimer(RenewEvery);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await RenewAsync(redis.GetDatabase());
        }
    }

    private async Task RenewAsync(IDatabase db)
    {
        var renewals = new List<Task>();
        foreach (var connection in open.Keys)
        {
            renewals.Add(db.ScriptEvaluateAsync(RenewScript, [KeyOf(connection.UserId)], [(long)LeaseLength.TotalMilliseconds, Member(connection)]));
            if (!open.ContainsKey(connection))
            {
                GiveBack(connection);
            }
        }
        try
        {
            await Task.WhenAll(renewals);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Log.RenewFailed(logger, renewals.Count(t => t.IsFaulted), e);
        }
    }

    private void GiveBack(ClientConnection connection)
    {
        if (redis is null)
        {
            return;
        }
        // Fire and forget: when Redis cannot take it now, the lease ends by itself.
        _ = redis.GetDatabase().SortedSetRemoveAsync(KeyOf(connection.UserId), Member(connection), CommandFlags.FireAndForget);
    }

    private static RedisValue Member(ClientConnection connection) => connection.Id.ToString("N");

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable: connections per user are counted on this replica only until it is back")]
        public static partial void CountingLocally(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Failed} connection leases could not be renewed in Redis; they are renewed again on the next round")]
        public static partial void RenewFailed(ILogger logger, int failed, Exception exception);
    }
}
