using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace WinDi.Api.Auth;

/// <summary>An attempt the throttle let through (its failure counted in advance), or the wait it was refused with.</summary>
public readonly record struct LoginReservation(LoginKey Key, bool CountedHere, bool CountedInRedis, TimeSpan? RetryAfter);

/// <summary>
/// Limits failed /token attempts per account and client address: Limits__FailedLoginsPerMinute per (account, address)
/// pair in a one-minute window. Keyed by the pair, not the account alone, so guesses from one address cannot lock
/// the owner out from another; and not the address alone, so many people behind one address can still log in.
/// <para>
/// A failure is counted before the password is checked and given back when it was right, so N parallel guesses
/// cannot all pass the check before the first failure is counted. Every attempt is counted in this replica and,
/// when ConnectionStrings__redis is set, in Redis too; either refusing refuses. While Redis is down the replica's
/// own count goes on (it never stopped), so an outage limits per replica instead of not at all, and is logged once.
/// </para>
/// </summary>
public sealed partial class LoginThrottle
{
    /// <summary>Pairs one replica counts at most (about 60 bytes each); see <see cref="LocalFailureCounts"/>.</summary>
    public const int MaxPairsPerReplica = 100_000;

    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private static readonly byte[] Label = Encoding.UTF8.GetBytes("windi failed-login counters v1");

    private readonly byte[] accountKey;
    private readonly RedisFailureCounts? shared;
    private readonly ILogger<LoginThrottle> logger;
    private int redisDown;
    private int full;

    /// <param name="redis">Registered only when ConnectionStrings__redis is set (RedisExtensions.AddRedis); the container passes null otherwise.</param>
    public LoginThrottle(IOptions<LimitsOptions> limits, IOptions<JwtOptions> jwt, TimeProvider clock, ILogger<LoginThrottle> logger, IConnectionMultiplexer? redis = null)
    {
        var perMinute = limits.Value.FailedLoginsPerMinute;
        // The account half of a key is an HMAC, not a plain hash: Redis then holds nothing that a list of emails could be matched against.
        accountKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, jwt.Value.SecretBytes, 32, salt: null, info: Label);
        Local = new LocalFailureCounts(perMinute, Window, MaxPairsPerReplica, clock);
        shared = redis is null ? null : new RedisFailureCounts(redis, perMinute, Window);
        this.logger = logger;
    }

    /// <summary>This replica's counters (tests look at how many pairs they hold).</summary>
    public LocalFailureCounts Local { get; }

    public LoginKey KeyOf(string normalizedEmail, HttpContext http)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(accountKey, Encoding.UTF8.GetBytes(normalizedEmail), mac);
        return new LoginKey(BinaryPrimitives.ReadUInt128BigEndian(mac), ClientAddress.Of(http));
    }

    /// <summary>Counts a failure for this attempt before the password is checked, or says how long the pair must wait.</summary>
    public async Task<LoginReservation> TryReserveAsync(LoginKey key)
    {
        var (verdict, retryAfter) = Local.TryReserve(key);
        if (verdict == CountVerdict.Refused)
        {
            return new LoginReservation(key, false, false, retryAfter);
        }
        NoteRoom(verdict);
        var countedHere = verdict == CountVerdict.Reserved;
        if (shared is null)
        {
            return new LoginReservation(key, countedHere, false, null);
        }
        try
        {
            var (sharedVerdict, sharedRetryAfter) = await shared.TryReserveAsync(key);
            NoteRedisAnswered();
            if (sharedVerdict == CountVerdict.Refused)
            {
                if (countedHere)
                {
                    Local.Release(key);
                }
                return new LoginReservation(key, false, false, sharedRetryAfter);
            }
            return new LoginReservation(key, countedHere, true, null);
        }
        catch (Exception e) when (IsRedisFailure(e))
        {
            NoteRedisDown(e);
            return new LoginReservation(key, countedHere, false, null);
        }
    }

    /// <summary>The password was right: the failure counted in advance is given back.</summary>
    public async Task GiveBackAsync(LoginReservation reservation)
    {
        if (reservation.CountedHere)
        {
            Local.Release(reservation.Key);
        }
        if (reservation.CountedInRedis && shared is not null)
        {
            try
            {
                await shared.ReleaseAsync(reservation.Key);
            }
            catch (Exception e) when (IsRedisFailure(e))
            {
                // The failure stays counted in Redis until its window ends: stricter, never looser.
                NoteRedisDown(e);
            }
        }
    }

    private static bool IsRedisFailure(Exception e) => e is RedisException or TimeoutException or ObjectDisposedException;

    // One line per outage (or per spell of a full table), not one per login; the usual case only reads the flag.
    private void NoteRedisDown(Exception e)
    {
        if (Interlocked.Exchange(ref redisDown, 1) == 0)
        {
            Log.RedisUnreachable(logger, e);
        }
    }

    private void NoteRedisAnswered()
    {
        if (Volatile.Read(ref redisDown) != 0 && Interlocked.Exchange(ref redisDown, 0) != 0)
        {
            Log.RedisBack(logger);
        }
    }

    private void NoteRoom(CountVerdict verdict)
    {
        if (verdict == CountVerdict.Full)
        {
            if (Interlocked.Exchange(ref full, 1) == 0)
            {
                Log.CountersFull(logger, MaxPairsPerReplica);
            }
        }
        else if (Volatile.Read(ref full) != 0)
        {
            Interlocked.Exchange(ref full, 0);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable: failed logins are counted by each replica alone until it answers again")]
        public static partial void RedisUnreachable(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Information, Message = "Redis answers again: failed logins are counted across replicas")]
        public static partial void RedisBack(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "This replica counts failed logins for {Pairs} account-address pairs already: new pairs are not counted here until windows end")]
        public static partial void CountersFull(ILogger logger, int pairs);
    }
}
