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

    /// <summary>The token's session was revoked (logout, signed out from another device, refresh-token reuse) or expired: 401.</summary>
    SessionEnded,

    /// <summary>The database cannot answer and the user was not seen recently: 503, never a guess.</summary>
    Unverifiable,
}

/// <summary>
/// The one place that decides whether a correctly signed token may still be used (DESIGN §6): its user must exist,
/// and its session (the <c>sid</c> claim) must be live: neither revoked nor expired. A token without <c>sid</c> (minted
/// before sessions existed; they live at most Jwt__AccessTokenMinutes) is checked for its user alone.
/// Called by the bearer handler for every request that carries a token, REST and the WebSocket upgrade alike.
/// <para>
/// Cheap: an answer is cached per (user, session) and trusted for <see cref="FreshFor"/>, so a busy device costs one
/// lookup (two primary keys, one round trip) per replica every five seconds, and concurrent requests for a key not in
/// the cache share one lookup. Five seconds is also the bound for a revoked session: its tokens stop working within
/// 5 s on every replica without telling any replica anything; a replica that hears of the revocation (the relay's
/// session-ended event) forgets its answer at once (<see cref="Forget"/>).
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

    /// <summary>A primary-key lookup (the users_pkey index), one round trip: for tokens without a session.</summary>
    internal const string UserExistsSql = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)";

    /// <summary>Two primary-key lookups (users_pkey, pk_sessions) in one round trip; the database's clock decides expiry.</summary>
    internal const string SessionLiveSql = """
        SELECT EXISTS (SELECT 1 FROM users WHERE id = $1),
               EXISTS (SELECT 1 FROM sessions WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL AND expires_at > now())
        """;

    private readonly MemoryCache answers = new(new MemoryCacheOptions { SizeLimit = MaxEntries });

    /// <summary>Lookups in flight, so that a burst of requests for one key asks once; an entry lives as long as its query.</summary>
    private readonly ConcurrentDictionary<CurrentUser, Lazy<Task<Access>>> lookups = new();

    private sealed record Answer(Access Access, long CheckedAt);

    public async ValueTask<Access> CheckAsync(CurrentUser caller, CancellationToken ct)
    {
        var cached = answers.Get<Answer>(caller);
        if (cached is not null && clock.GetElapsedTime(cached.CheckedAt) < FreshFor)
        {
            return cached.Access;
        }
        try
        {
            var lookup = lookups.GetOrAdd(caller, key => new Lazy<Task<Access>>(() => LookUpAsync(key)));
            return await lookup.Value.WaitAsync(ct);
        }
        catch (NpgsqlException e) when (e.IsTransient)
        {
            if (cached is { Access: Access.Allowed } && clock.GetElapsedTime(cached.CheckedAt) < TrustedDuringOutageFor)
            {
                Log.TrustedDuringOutage(logger, caller.Id);
                return Access.Allowed;
            }
            Log.Unverifiable(logger, caller.Id);
            return Access.Unverifiable;
        }
    }

    /// <summary>
    /// The session has just ended (this replica revoked it, or heard so from another): its tokens are refused from now
    /// on, without waiting for the cached answer to age. A lookup already in flight may still store what it read before
    /// the revocation committed; that answer lives <see cref="FreshFor"/> at most.
    /// </summary>
    public void Forget(EndedSession ended) =>
        answers.Set(new CurrentUser(ended.UserId, ended.SessionId), new Answer(Access.SessionEnded, clock.GetTimestamp()),
            new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = FreshFor });

    /// <summary>
    /// Asks the database once for every caller waiting on this key, with no caller's cancellation (one request
    /// giving up must not fail the others). Npgsql's timeouts bound it. The answer is cached before the lookup leaves
    /// the in-flight table, so a request arriving in between finds one or the other.
    /// </summary>
    private async Task<Access> LookUpAsync(CurrentUser caller)
    {
        try
        {
            await using var command = dataSource.CreateCommand(caller.SessionId is null ? UserExistsSql : SessionLiveSql);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = caller.Id, NpgsqlDbType = NpgsqlDbType.Bigint });
            if (caller.SessionId is { } sessionId)
            {
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sessionId, NpgsqlDbType = NpgsqlDbType.Uuid });
            }
            await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
            await reader.ReadAsync(CancellationToken.None);
            var access = !reader.GetBoolean(0) ? Access.UserGone
                : caller.SessionId is not null && !reader.GetBoolean(1) ? Access.SessionEnded
                : Access.Allowed;
            // An allowed key is remembered longer than it is trusted, for the outage rule above; a refused one may change
            // any moment (ids are reused after a database reset), so that answer lives only while fresh.
            answers.Set(caller, new Answer(access, clock.GetTimestamp()), new MemoryCacheEntryOptions
            {
                Size = 1,
                AbsoluteExpirationRelativeToNow = access == Access.Allowed ? TrustedDuringOutageFor : FreshFor,
            });
            if (access == Access.UserGone)
            {
                Log.UserGone(logger, caller.Id);
            }
            return access;
        }
        finally
        {
            lookups.TryRemove(caller, out _);
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
