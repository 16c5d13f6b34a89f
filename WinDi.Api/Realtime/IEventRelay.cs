using System.Diagnostics;
using WinDi.Api.Auth;

namespace WinDi.Api.Realtime;

/// <summary>A frame for every connection of the given users, wherever they are connected.</summary>
/// <remarks>An array, not a list interface: every delivery walks it, and an array is walked without allocating.</remarks>
public sealed record RealtimeEvent(long[] Recipients, ReadOnlyMemory<byte> Frame)
{
    /// <summary>
    /// The answer to one connection's own frame, on this node, in its place among the events it is delivered with (a
    /// writer batch answers its senders in the order it stored their sends); never relayed. Its recipients are none.
    /// </summary>
    public static RealtimeEvent Answer(ClientConnection to, ReadOnlyMemory<byte> frame) => new([], frame) { To = to };

    /// <summary>The one connection an <see cref="Answer"/> is for; null for an event to its recipients' connections everywhere.</summary>
    public ClientConnection? To { get; private init; }

    /// <summary>The events for the other nodes: all but the answers to this node's connections.</summary>
    public static IReadOnlyList<RealtimeEvent> Relayed(IReadOnlyList<RealtimeEvent> events)
    {
        foreach (var realtimeEvent in events)
        {
            if (realtimeEvent.To is not null)
            {
                return events.Where(e => e.To is null).ToList();
            }
        }
        return events;
    }

    /// <summary>The recipients of all the events together, as the relay's spans record them.</summary>
    public static int CountRecipients(IReadOnlyList<RealtimeEvent> events)
    {
        var count = 0;
        foreach (var realtimeEvent in events)
        {
            count += realtimeEvent.Recipients.Length;
        }
        return count;
    }
}

/// <summary>
/// Carries events, after their data has committed, to every API node that may hold a connection of the
/// users concerned. One node: <see cref="InProcessRelay"/>. Several nodes: <see cref="RedisRelay"/>.
/// </summary>
public interface IEventRelay
{
    /// <summary>
    /// Delivers events, in order, to every node's connections of their recipients; a batch of them (the events of one
    /// writer batch) travels together, so that each connection gets its share of the batch in one write and the other
    /// nodes get the batch in one publish. Never waits for the other nodes.
    /// </summary>
    /// <param name="parent">The span the "relay publish" span belongs under; default: the current one.</param>
    ValueTask PublishAsync(IReadOnlyList<RealtimeEvent> events, ActivityContext parent, CancellationToken ct);

    /// <summary>
    /// Tells every node, this one first, that a session ended (after the revocation committed): each refuses the
    /// session's access tokens from now on (<see cref="AccessCheck.Forget"/>) and closes its sockets with 1008. Never
    /// waits and never throws; a node that misses it (Redis down) still refuses the tokens within AccessCheck's 5 s.
    /// </summary>
    void PublishSessionEnded(EndedSession ended);
}

/// <summary>Delivers to this node's connections, the only ones there are; <see cref="RedisRelay"/> does the same, then tells the other nodes.</summary>
public sealed class InProcessRelay(ConnectionRegistry connections, AccessCheck access) : IEventRelay
{
    public void PublishSessionEnded(EndedSession ended) => connections.EndSession(ended, access);

    public ValueTask PublishAsync(IReadOnlyList<RealtimeEvent> events, ActivityContext parent, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("relay publish", ActivityKind.Internal, parent);
        activity?.SetTag("windi.recipients", RealtimeEvent.CountRecipients(events));
        var offered = connections.Deliver(events);
        activity?.SetTag("windi.connections", offered);
        return ValueTask.CompletedTask;
    }
}

public static class EventRelayExtensions
{
    /// <summary>Publishes one event (see <see cref="IEventRelay.PublishAsync"/>).</summary>
    public static ValueTask PublishAsync(this IEventRelay relay, RealtimeEvent realtimeEvent, ActivityContext parent, CancellationToken ct) =>
        relay.PublishAsync([realtimeEvent], parent, ct);
}
