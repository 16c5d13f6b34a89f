using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net.WebSockets;
using WinDi.Api.Auth;

namespace WinDi.Api.Realtime;

/// <summary>This node's open WebSocket connections, by user; a user may hold several (devices, tabs).</summary>
public sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<long, ImmutableArray<ClientConnection>> byUser = new();

    /// <summary>Adds the connection unless its user already holds <paramref name="limit"/> of them on this node.</summary>
    public bool TryAdd(ClientConnection connection, int limit)
    {
        while (true)
        {
            if (!byUser.TryGetValue(connection.UserId, out var existing))
            {
                if (byUser.TryAdd(connection.UserId, [connection]))
                {
                    break;
                }
                continue;
            }
            if (existing.Length >= limit)
            {
                return false;
            }
            if (byUser.TryUpdate(connection.UserId, existing.Add(connection), existing))
            {
                break;
            }
        }
        Telemetry.OpenConnections.Add(1);
        return true;
    }

    /// <summary>Every connection open on this node now.</summary>
    public IEnumerable<ClientConnection> All => byUser.Values.SelectMany(connections => connections);

    public void Remove(ClientConnection connection)
    {
        while (byUser.TryGetValue(connection.UserId, out var existing))
        {
            var remaining = existing.Remove(connection);
            var updated = remaining.IsEmpty
                ? byUser.TryRemove(new KeyValuePair<long, ImmutableArray<ClientConnection>>(connection.UserId, existing))
                : byUser.TryUpdate(connection.UserId, remaining, existing);
            if (updated)
            {
                Telemetry.OpenConnections.Add(-1);
                return;
            }
        }
    }

    public bool HasConnections(long userId) => byUser.ContainsKey(userId);

    /// <summary>Every user with a connection open on this node now.</summary>
    public IEnumerable<long> Users => byUser.Keys;

    /// <summary>
    /// A session ended: its tokens are refused here from now on (so no new socket of it opens), then its sockets on
    /// this node close with 1008 after what is already queued for them.
    /// </summary>
    /// <returns>How many of this node's connections were closed.</returns>
    public int EndSession(EndedSession ended, AccessCheck access)
    {
        access.Forget(ended);
        var closed = 0;
        if (byUser.TryGetValue(ended.UserId, out var connections))
        {
            foreach (var connection in connections)
            {
                if (connection.SessionId == ended.SessionId)
                {
                    connection.Close(WebSocketCloseStatus.PolicyViolation, "Session ended");
                    closed++;
                }
            }
        }
        return closed;
    }

    /// <summary>
    /// Queues each event's frame on each connection of its recipients (an answer on its one connection), in order,
    /// without waiting: a slow connection never holds up the others. A connection's drain starts only once every event
    /// is queued, so the events of one batch leave in one write to each connection.
    /// </summary>
    /// <returns>How many of this node's connections the frames were offered to (a connection counts once per event).</returns>
    public int Deliver(IReadOnlyList<RealtimeEvent> events)
    {
        var offered = 0;
        List<ClientConnection>? toDrain = null;
        foreach (var realtimeEvent in events)
        {
            if (realtimeEvent.To is { } answered)
            {
                answered.Enqueue(realtimeEvent.Frame, ref toDrain);
                offered++;
                continue;
            }
            foreach (var userId in realtimeEvent.Recipients)
            {
                if (byUser.TryGetValue(userId, out var connections))
                {
                    foreach (var connection in connections)
                    {
                        connection.Enqueue(realtimeEvent.Frame, ref toDrain);
                    }
                    offered += connections.Length;
                }
            }
        }
        if (toDrain is not null)
        {
            foreach (var connection in toDrain)
            {
                connection.StartDrain();
            }
        }
        return offered;
    }
}
