using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Auth;

namespace WinDi.Api.Realtime;

/// <summary>
/// With several replicas, an ended session's sockets on the other replicas close when they hear of it over Redis
/// (<see cref="IEventRelay.PublishSessionEnded"/>), at once. Pub/sub delivers at most once: while Redis is down, or
/// while a replica's subscription is coming back, the notice is lost. So every <see cref="Every"/> each replica also
/// asks the database which sessions of its open sockets have ended (one query, whatever the number of sockets), and
/// closes those with 1008: a lost notice costs at most that long, not the rest of the token's life.
/// </summary>
public sealed partial class EndedSessionSweep(ConnectionRegistry connections, AccessCheck access, NpgsqlDataSource dataSource,
    ILogger<EndedSessionSweep> logger) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(10);

    /// <summary>Of the given sessions, those that are no longer live (revoked, expired, or gone with their user).</summary>
    internal const string EndedSql = """
        SELECT ids.id FROM unnest($1) AS ids(id)
        WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = ids.id AND s.revoked_at IS NULL AND s.expires_at > now())
        """;

    private bool failing;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(stoppingToken);
                failing = false;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The database is down, most likely: nothing can be revoked meanwhile either. One line per outage.
                if (!failing)
                {
                    Log.SweepFailed(logger, e);
                }
                failing = true;
            }
        }
    }

    private async Task SweepAsync(CancellationToken ct)
    {
        var users = new Dictionary<Guid, long>();
        foreach (var connection in connections.All)
        {
            if (connection.SessionId is { } sessionId && connection.IsOpen)
            {
                users[sessionId] = connection.UserId;
            }
        }
        if (users.Count == 0)
        {
            return;
        }
        await using var command = dataSource.CreateCommand(EndedSql);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. users.Keys], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var sessionId = reader.GetGuid(0);
            var closed = connections.EndSession(new EndedSession(users[sessionId], sessionId), access);
            Log.Swept(logger, sessionId, closed);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId} had ended unheard of (a lost relay notice): {Connections} connections closed")]
        public static partial void Swept(ILogger logger, Guid sessionId, int connections);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot check which sessions of this replica's sockets have ended; retrying")]
        public static partial void SweepFailed(ILogger logger, Exception exception);
    }
}
