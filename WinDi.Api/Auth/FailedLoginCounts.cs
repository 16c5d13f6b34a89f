using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using StackExchange.Redis;

namespace WinDi.Api.Auth;

/// <summary>
/// One counter of failed logins: an account (a keyed hash of its normalized email) tried from one client address
/// (<see cref="ClientAddress"/>). Both halves have a fixed size, so a counter costs the same whatever the username.
/// </summary>
public readonly record struct LoginKey(UInt128 Account, UInt128 Address)
{
    /// <summary>The Redis key of the pair: 85 bytes, gone a minute after its window opened.</summary>
    public string RedisKey => string.Create(CultureInfo.InvariantCulture, $"windi:failed-logins:{Account:x32}:{Address:x32}");
}

/// <summary>What a counter answered for one attempt.</summary>
public enum CountVerdict
{
    /// <summary>A failure is counted in advance for this attempt; it is given back if the password is right.</summary>
    Reserved,

    /// <summary>The pair has used up its window: refuse the attempt without checking the password.</summary>
    Refused,

    /// <summary>The counter had no room for a new pair; nothing was counted (only <see cref="LocalFailureCounts"/>).</summary>
    Full,
}

/// <summary>
/// This replica's failed-login counters: one fixed window per (account, address) pair, opened by the pair's first
/// attempt and lasting <c>window</c>, in one dictionary of fixed-size entries behind one lock (the work it guards is
/// a lookup; the password hash that follows costs thousands of times more). Bounded: it never holds more than
/// <c>capacity</c> pairs (about 60 bytes each). Windows that ended are swept once a window, and, while the table is
/// full, at most once a second; a new pair that finds no room is not counted here (<see cref="CountVerdict.Full"/>),
/// which leaves it to Redis, when there is one, and to the per-address request limit. Refusing it instead would let
/// whoever fills the table lock everyone out.
/// </summary>
public sealed class LocalFailureCounts(int limit, TimeSpan window, int capacity, TimeProvider clock)
{
    private readonly Lock gate = new();
    private readonly Dictionary<LoginKey, Window> windows = [];
    private readonly long windowTicks = (long)(window.TotalSeconds * clock.TimestampFrequency);
    private long lastSweep;
    private long nextSweep;

    /// <summary>The pairs held now, whether or not their window has ended.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return windows.Count;
            }
        }
    }

    /// <summary>Counts a failure in advance for one attempt of the pair, unless its window is used up (then: how long until it ends).</summary>
    public (CountVerdict Verdict, TimeSpan RetryAfter) TryReserve(LoginKey key)
    {
        var now = clock.GetTimestamp();
        lock (gate)
        {
            ref var current = ref CollectionsMarshal.GetValueRefOrNullRef(windows, key);
            if (Unsafe.IsNullRef(ref current))
            {
                if (now >= nextSweep || (windows.Count >= capacity && now - lastSweep >= clock.TimestampFrequency))
                {
                    Sweep(now);
                }
                if (windows.Count >= capacity)
                {
                    return (CountVerdict.Full, TimeSpan.Zero);
                }
                windows.Add(key, new Window(1, now + windowTicks));
                return (CountVerdict.Reserved, TimeSpan.Zero);
            }
            if (now >= current.EndsAt)
            {
                current = new Window(1, now + windowTicks);
                return (CountVerdict.Reserved, TimeSpan.Zero);
            }
            if (current.Count >= limit)
            {
                return (CountVerdict.Refused, TimeSpan.FromSeconds((double)(current.EndsAt - now) / clock.TimestampFrequency));
            }
            current = current with { Count = current.Count + 1 };
            return (CountVerdict.Reserved, TimeSpan.Zero);
        }
    }

    /// <summary>Gives back a failure reserved for an attempt that turned out not to be one (or that Redis refused).</summary>
    public void Release(LoginKey key)
    {
        lock (gate)
        {
            ref var current = ref CollectionsMarshal.GetValueRefOrNullRef(windows, key);
            if (!Unsafe.IsNullRef(ref current) && current.Count > 0)
            {
                current = current with { Count = current.Count - 1 };
            }
        }
    }

    private void Sweep(long now)
    {
        foreach (var (key, ended) in windows)
        {
            if (now >= ended.EndsAt)
            {
                // Removing during enumeration is allowed for Dictionary since .NET Core 3.0.
                windows.Remove(key);
            }
        }
        lastSweep = now;
        nextSweep = now + windowTicks;
    }

    private readonly record struct Window(int Count, long EndsAt);
}

/// <summary>
/// The failed-login counters every replica shares, in Redis: one key per (account, address) pair, a fixed window
/// opened by the pair's first attempt. Reserving is one script (INCR, PEXPIRE on a new key, and an over-limit
/// increment taken back), so concurrent attempts on any replicas cannot all pass. Every call may throw
/// <see cref="RedisException"/> or <see cref="TimeoutException"/> when Redis is unreachable.
/// </summary>
public sealed class RedisFailureCounts(IConnectionMultiplexer redis, int limit, TimeSpan window)
{
    // Returns 0 when reserved, else the milliseconds until the window ends. PTTL < 0 also repairs a key without expiry.
    private const string ReserveScript = """
        local n = redis.call('INCR', KEYS[1])
        if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        if n <= tonumber(ARGV[1]) then return 0 end
        redis.call('DECR', KEYS[1])
        return math.max(redis.call('PTTL', KEYS[1]), 1)
        """;

    // A window that ended meanwhile leaves no key behind (DECR of a missing key would make one at -1, without expiry).
    private const string ReleaseScript = """
        local n = redis.call('DECR', KEYS[1])
        if n <= 0 then redis.call('DEL', KEYS[1]) end
        return n
        """;

    private readonly RedisValue[] reserveArguments = [limit, (long)window.TotalMilliseconds];

    public async Task<(CountVerdict Verdict, TimeSpan RetryAfter)> TryReserveAsync(LoginKey key)
    {
        var wait = (long)await redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, [key.RedisKey], reserveArguments);
        return wait == 0 ? (CountVerdict.Reserved, TimeSpan.Zero) : (CountVerdict.Refused, TimeSpan.FromMilliseconds(wait));
    }

    public Task ReleaseAsync(LoginKey key) => redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [key.RedisKey]);
}
