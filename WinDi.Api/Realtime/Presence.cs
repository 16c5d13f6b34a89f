using StackExchange.Redis;

namespace WinDi.Api.Realtime;

/// <summary>
/// Who is online: a user is while they hold at least one WebSocket on any replica. With Redis that is a connection
/// lease of theirs that has not ended (<see cref="ConnectionSlots"/>: a closed connection gives its lease back at
/// once, and a dead replica's leases end within <see cref="ConnectionSlots.LeaseLength"/>), counted by Redis's
/// clock for many users in one round trip; this replica's own connections count too (a connection opened while
/// Redis was down has no lease until the next renewal). Without Redis, or while it does not answer, only this
/// replica's connections are seen.
/// </summary>
public sealed partial class Presence(ConnectionRegistry registry, ILogger<Presence> logger, IConnectionMultiplexer? redis = null)
{
    /// <summary>How long a lookup waits for Redis before it answers from this replica's connections.</summary>
    public static readonly TimeSpan RedisWait = TimeSpan.FromSeconds(1);

    // The live leases of each key (each user), by Redis's clock; a lease whose end has come is over.
    private const string CountLiveLeasesScript = """
        local t = redis.call('TIME')
        local now = string.format('(%d', t[1] * 1000 + math.floor(t[2] / 1000))
        local counts = {}
        for i, key in ipairs(KEYS) do counts[i] = redis.call('ZCOUNT', key, now, '+inf') end
        return counts
        """;

    private int outageLogged;

    /// <summary>The users among <paramref name="userIds"/> who are online.</summary>
    public async Task<IReadOnlySet<long>> OnlineAsync(IEnumerable<long> userIds, CancellationToken ct)
    {
        var online = new HashSet<long>();
        var elsewhere = new List<long>();
        foreach (var userId in userIds.Distinct())
        {
            if (registry.HasConnections(userId))
            {
                online.Add(userId);
            }
            else
            {
                elsewhere.Add(userId);
            }
        }
        if (redis is null || elsewhere.Count == 0)
        {
            return online;
        }
        try
        {
            var counts = (RedisResult[])(await redis.GetDatabase()
                .ScriptEvaluateAsync(CountLiveLeasesScript, [.. elsewhere.Select(ConnectionSlots.KeyOf)])
                .WaitAsync(RedisWait, ct))!;
            for (var i = 0; i < elsewhere.Count; i++)
            {
                if ((long)counts[i] > 0)
                {
                    online.Add(elsewhere[i]);
                }
            }
            Interlocked.Exchange(ref outageLogged, 0);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            if (Interlocked.Exchange(ref outageLogged, 1) == 0)
            {
                Log.LocalOnly(logger, e);
            }
        }
        return online;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable: presence shows only the users connected to this replica until it is back")]
        public static partial void LocalOnly(ILogger logger, Exception exception);
    }
}
