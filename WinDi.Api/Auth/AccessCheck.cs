using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Memory;
using Npgsql;
using NpgsqlTypes;

namespace WinDi.Api.Auth;

public enum Access
{
    /// <summary>The user exists (checked within <see cref="AccessCheck.FreshFor"/>, or recently enough during an outage).</summary>
    Allowed,

    /// <summary>There is no such user: the token is refused with 401.</summary>
    UserGone,

    /// <summary>The database cannot answer and the user was not seen recently: 503, never a guess.</summary>
    Unverifiable,
}

/// <summary>
/// The one place that decides whether a correctly signed token may still be used (DESIGN §6): its user must exist.
/// Called by the bearer handler for every request that carries a token, REST and the WebSocket upgrade alike.
/// <para>
/// Cheap: an answer is cached per user and trusted for <see cref="FreshFor"/>, so a busy user costs one primary-key
/// lookup per replica every five seconds, and concurrent requests for a user not in the cache share one lookup. Five
/// seconds is also the bound the sessions change needs (a revoked session's tokens stop working within 5 s on every
/// replica): keyed by session as well as user, this cache meets it without telling other replicas anything.
/// </para>
/// <para>
/// Bounded: at most <see cref="MaxEntries"/> answers are held, whatever ids a flood of tokens names (a signed token
/// needs the secret, so the realistic flood is stale tokens after a database reset); beyond that, answers are not
/// cached and each request asks the database.
/// </para>
/// <para>
/// During an outage (a transient Npgsql failure), a user this replica saw exist within <see cref="TrustedDuringOutageFor"/>
/// is still let in: the people who were using the app keep their connections and can reconnect, though every read
/// and write fails until the database is back. Nobody is let in unchecked: a user not seen recently is
/// <see cref="Access.Unverifiable"/>. Nothing removes users through the API, and nothing can change in the
/// database while it is down, so the stale answer is wrong only for a change made in the moments before the outage.
/// </para>
/// </summary>
public sealed partial class AccessCheck(NpgsqlDataSource dataSource, TimeProvider clock, ILogger<AccessCheck> logger) : IDisposable
{
    public static readonly TimeSpan FreshFor = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan TrustedDuringOutageFor = TimeSpan.FromMinutes(5);
    public const int MaxEntries = 100_000;

    /// <summary>A primary-key lookup (the users_pkey index), one round trip.</summary>
    internal const string UserExistsSql = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)";

    private readonly MemoryCache answers = new(new MemoryCacheOptions { SizeLimit = MaxEntries });

    /// <summary>Lookups in flight, so that a burst of requests for one user asks once; an entry lives as long as its query.</summary>
    private readonly ConcurrentDictionary<long, Lazy<Task<bool>>> lookups = new();

    private sealed record Answer(bool Exists, long CheckedAt);

    public async ValueTask<Access> CheckAsync(long userId, CancellationToken ct)
    {
        var cached = answers.Get<Answer>(userId);
        if (cached is not null && clock.GetElapsedTime(cached.CheckedAt) < FreshFor)
        {
            return cached.Exists ? Access.Allowed : Access.UserGone;
        }
        try
        {
            var lookup = lookups.GetOrAdd(userId, id => new Lazy<Task<bool>>(() => LookUpAsync(id)));
            return await lookup.Value.WaitAsync(ct) ? Access.Allowed : Access.UserGone;
        }
        catch (NpgsqlException e) when (e.IsTransient)
        {
            if (cached is { Exists: true } && clock.GetElapsedTime(cached.CheckedAt) < TrustedDuringOutageFor)
            {
                Log.TrustedDuringOutage(logger, userId);
                return Access.Allowed;
            }
            Log.Unverifiable(logger, userId);
            return Access.Unverifiable;
        }
    }

    /// <summary>
    /// Asks the database once for every caller waiting on this user, with no caller's cancellation (one request
    /// giving up must not fail the others). Npgsql's timeouts bound it. The answer is cached before the lookup leaves
    /// the in-flight table, so a request arriving in between finds one or the other.
    /// </summary>
    private async Task<bool> LookUpAsync(long userId)
    {
        try
        {
            await using var command = dataSource.CreateCommand(UserExistsSql);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = userId, NpgsqlDbType = NpgsqlDbType.Bigint });
            var exists = (bool)(await command.ExecuteScalarAsync(CancellationToken.None))!;
            // A user who exists is remembered longer than they are trusted, for the outage rule above; one who does not
            // may be registered any moment (ids are reused after a database reset), so that answer lives only while fresh.
            answers.Set(userId, new Answer(exists, clock.GetTimestamp()), new MemoryCacheEntryOptions
            {
                Size = 1,
                AbsoluteExpirationRelativeToNow = exists ? TrustedDuringOutageFor : FreshFor,
            });
            if (!exists)
            {
                Log.UserGone(logger, userId);
            }
            return exists;
        }
        finally
        {
            lookups.TryRemove(userId, out _);
        }
    }

    public void Dispose() => answers.Dispose();

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Tokens of user {UserId} are refused: the user does not exist")]
        public static partial void UserGone(ILogger logger, long userId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The database is unreachable; user {UserId}, seen recently, is let in")]
        public static partial void TrustedDuringOutage(ILogger logger, long userId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The database is unreachable; user {UserId}, not seen recently, cannot be checked (503)")]
        public static partial void Unverifiable(ILogger logger, long userId);
    }
}
