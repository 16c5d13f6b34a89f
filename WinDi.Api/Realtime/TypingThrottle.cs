using System.Collections.Concurrent;
using StackExchange.Redis;

namespace WinDi.Api.Realtime;

/// <summary>
/// At most one TYPING relayed per user and chat every <see cref="Window"/>, whichever of the user's connections
/// and replicas it comes from. Each replica remembers its own claims (so repeats on one replica cost nothing),
/// and with Redis a claim is also a key set only if absent (<c>SET windi:typing:{user}:{chat} 1 NX PX 2000</c>),
/// which decides between replicas. While Redis does not answer, each replica limits alone. Memory is bounded:
/// at most <see cref="MaxTracked"/> claims, those that ended swept when the table is full; a claim that still
/// finds it full is not remembered by this replica (Redis, and the connection's command budget, still bound it).
/// </summary>
public sealed partial class TypingThrottle(TimeProvider clock, ILogger<TypingThrottle> logger, IConnectionMultiplexer? redis = null)
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(2);
    public const int MaxTracked = 100_000;

    private readonly ConcurrentDictionary<(long User, long Chat), long> claimedUntil = new();
    private readonly long windowTicks = (long)(Window.TotalSeconds * clock.TimestampFrequency);
    private int tracked;
    private long lastSweep;
    private int fullLogged;
    private int outageLogged;

    public static RedisKey KeyOf(long userId, long chatId) => $"windi:typing:{userId}:{chatId}";

    /// <summary>Whether this replica saw a claim for the pair within the window (no claim is taken).</summary>
    public bool IsHeld(long userId, long chatId) =>
        claimedUntil.TryGetValue((userId, chatId), out var until) && clock.GetTimestamp() < until;

    /// <summary>Claims the pair's window; false when a TYPING of this user in this chat went out within it.</summary>
    public async Task<bool> TryClaimAsync(long userId, long chatId)
    {
        var key = (userId, chatId);
        var until = clock.GetTimestamp() + windowTicks;
        if (!TryClaimHere(key, until, out var remembered))
        {
            return false;
        }
        if (redis is null)
        {
            return true;
        }
        try
        {
            var claimed = await redis.GetDatabase().StringSetAsync(KeyOf(userId, chatId), 1, Window, When.NotExists).WaitAsync(Presence.RedisWait);
            Interlocked.Exchange(ref outageLogged, 0);
            if (!claimed && remembered && claimedUntil.TryRemove(new KeyValuePair<(long, long), long>(key, until)))
            {
                // Another replica holds the window; this one must not hold it longer than Redis does.
                Interlocked.Decrement(ref tracked);
            }
            return claimed;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            if (Interlocked.Exchange(ref outageLogged, 1) == 0)
            {
                Log.LimitingLocally(logger, e);
            }
            return true;
        }
    }

    /// <summary>This replica's claim; <paramref name="remembered"/> is false when the table was full.</summary>
    private bool TryClaimHere((long, long) key, long until, out bool remembered)
    {
        remembered = true;
        while (true)
        {
            var now = until - windowTicks;
            if (claimedUntil.TryGetValue(key, out var existing))
            {
                if (now < existing)
                {
                    return false;
                }
                if (claimedUntil.TryUpdate(key, until, existing))
                {
                    return true;
                }
                continue;
            }
            if (Volatile.Read(ref tracked) >= MaxTracked && !Sweep(now))
            {
                if (Interlocked.Exchange(ref fullLogged, 1) == 0)
                {
                    Log.TableFull(logger, MaxTracked);
                }
                remembered = false;
                return true;
            }
            if (claimedUntil.TryAdd(key, until))
            {
                Interlocked.Increment(ref tracked);
                return true;
            }
        }
    }

    /// <summary>Drops the claims that ended, at most once a window; true when that made room.</summary>
    private bool Sweep(long now)
    {
        var last = Volatile.Read(ref lastSweep);
        if (now - last >= windowTicks && Interlocked.CompareExchange(ref lastSweep, now, last) == last)
        {
            foreach (var (key, until) in claimedUntil)
            {
                if (until <= now && claimedUntil.TryRemove(new KeyValuePair<(long, long), long>(key, until)))
                {
                    Interlocked.Decrement(ref tracked);
                }
            }
            Interlocked.Exchange(ref fullLogged, 0);
        }
        return Volatile.Read(ref tracked) < MaxTracked;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable: TYPING is limited by each replica alone until it is back")]
        public static partial void LimitingLocally(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Claims} TYPING claims are held on this replica; further ones are limited by Redis and the connections' budgets only")]
        public static partial void TableFull(ILogger logger, int claims);
    }
}
