using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Realtime;

namespace WinDi.Api.Auth;

/// <summary>A session that has just ended: every replica closes its sockets and refuses its access tokens.</summary>
public readonly record struct EndedSession(long UserId, Guid SessionId);

/// <summary>A session that got new tokens: whose it is, and its new refresh token.</summary>
public sealed record RefreshedSession(long UserId, string Name, string Email, Guid SessionId, string RefreshToken);

/// <summary>
/// Sessions in PostgreSQL (the <c>sessions</c> table; the database's clock decides every expiry, so replicas agree).
/// Each statement that changes a session is one conditional statement, so races are decided by the row, never by a
/// check made before the write: of two refreshes with one token exactly one rotates it, and the other finds it gone.
/// </summary>
public sealed partial class Sessions(NpgsqlDataSource dataSource, RefreshTokens refreshTokens, IOptions<JwtOptions> jwt,
    IEventRelay relay, ILogger<Sessions> logger)
{
    // The user's ended sessions go with each login, so the table holds the live sessions and the recently ended ones
    // of people who have not logged in since. One round trip, one implicit transaction.
    private const string ClearEndedSql = "DELETE FROM sessions WHERE user_id = $1 AND (revoked_at IS NOT NULL OR expires_at <= now())";
    private const string StartSql = """
        INSERT INTO sessions (id, user_id, refresh_hash, generation, expires_at) VALUES ($1, $2, $3, 0, now() + $4)
        """;

    // Rotation: only the current token of a live session matches; the row lock makes a parallel refresh with the same
    // token wait and then find the hash changed (READ COMMITTED re-checks the WHERE on the updated row). The id and
    // generation come from the token, which is genuine if its hash matches; they make the new token's generation right.
    private const string RotateSql = """
        UPDATE sessions AS s
        SET refresh_hash = $4, generation = s.generation + 1, last_used_at = now(), expires_at = now() + $5
        FROM users AS u
        WHERE s.refresh_hash = $1 AND s.id = $2 AND s.generation = $3 AND s.revoked_at IS NULL AND s.expires_at > now()
          AND u.id = s.user_id
        RETURNING s.user_id, u.name, u.email
        """;

    // A genuine token of an older generation: it was rotated, and is being used again (by a thief, or by the client
    // after a thief): the whole session ends.
    private const string RevokeReusedSql = """
        UPDATE sessions SET revoked_at = now() WHERE id = $1 AND generation > $2 AND revoked_at IS NULL RETURNING user_id
        """;

    private const string RevokeSql = """
        UPDATE sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
        """;

    /// <summary>Starts a session for a user who just proved their password; returns its id and first refresh token.</summary>
    public async Task<(Guid SessionId, string RefreshToken)> StartAsync(long userId, CancellationToken ct)
    {
        var sessionId = Guid.CreateVersion7();
        var minted = refreshTokens.Mint(sessionId, generation: 0);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(Command(ClearEndedSql, Bigint(userId)));
        batch.BatchCommands.Add(Command(StartSql, Uuid(sessionId), Bigint(userId), Bytea(minted.Hash), Interval(jwt.Value.RefreshTokenLifetime)));
        await batch.ExecuteNonQueryAsync(ct);
        Log.Started(logger, sessionId, userId);
        return (sessionId, minted.Token);
    }

    /// <summary>
    /// Rotates a refresh token: the new one replaces it and the session's expiry moves. Null when the token is unknown,
    /// expired, rotated or revoked; a rotated one used again revokes its session.
    /// </summary>
    public async Task<RefreshedSession?> RefreshAsync(string token, CancellationToken ct)
    {
        if (!refreshTokens.TryRead(token, out var presented))
        {
            return null;
        }
        var successor = refreshTokens.Mint(presented.SessionId, presented.Generation + 1);
        await using (var rotate = dataSource.CreateCommand(RotateSql))
        {
            rotate.Parameters.Add(Bytea(presented.Hash));
            rotate.Parameters.Add(Uuid(presented.SessionId));
            rotate.Parameters.Add(Integer(presented.Generation));
            rotate.Parameters.Add(Bytea(successor.Hash));
            rotate.Parameters.Add(Interval(jwt.Value.RefreshTokenLifetime));
            await using var reader = await rotate.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                var userId = reader.GetInt64(0);
                Log.Refreshed(logger, presented.SessionId, userId);
                return new RefreshedSession(userId, reader.GetString(1), reader.GetString(2), presented.SessionId, successor.Token);
            }
        }
        if (presented.Genuine)
        {
            await using var revoke = dataSource.CreateCommand(RevokeReusedSql);
            revoke.Parameters.Add(Uuid(presented.SessionId));
            revoke.Parameters.Add(Integer(presented.Generation));
            if (await revoke.ExecuteScalarAsync(ct) is long userId)
            {
                Log.ReuseRevoked(logger, presented.SessionId, userId);
                relay.PublishSessionEnded(new EndedSession(userId, presented.SessionId));
            }
        }
        return null;
    }

    /// <summary>Revokes one of the user's live sessions; false when they have no such session (another's, unknown, ended).</summary>
    public async Task<bool> RevokeAsync(long userId, Guid sessionId, CancellationToken ct)
    {
        await using var revoke = dataSource.CreateCommand(RevokeSql);
        revoke.Parameters.Add(Uuid(sessionId));
        revoke.Parameters.Add(Bigint(userId));
        if (await revoke.ExecuteNonQueryAsync(ct) == 0)
        {
            return false;
        }
        Log.Revoked(logger, sessionId, userId);
        relay.PublishSessionEnded(new EndedSession(userId, sessionId));
        return true;
    }

    private static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }

    private static NpgsqlParameter<long> Bigint(long value) => new() { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Bigint };
    private static NpgsqlParameter<int> Integer(int value) => new() { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Integer };
    private static NpgsqlParameter<Guid> Uuid(Guid value) => new() { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Uuid };
    private static NpgsqlParameter<byte[]> Bytea(byte[] value) => new() { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Bytea };
    private static NpgsqlParameter<TimeSpan> Interval(TimeSpan value) => new() { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Interval };

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId} of user {UserId} started")]
        public static partial void Started(ILogger logger, Guid sessionId, long userId);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Session {SessionId} of user {UserId} refreshed")]
        public static partial void Refreshed(ILogger logger, Guid sessionId, long userId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId} of user {UserId} revoked")]
        public static partial void Revoked(ILogger logger, Guid sessionId, long userId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "A rotated refresh token of session {SessionId} (user {UserId}) was used again: the session is revoked")]
        public static partial void ReuseRevoked(ILogger logger, Guid sessionId, long userId);
    }
}
