namespace WinDi.Api.Realtime;

/// <summary>A frame for every connection of the given users, wherever they are connected.</summary>
public sealed record RealtimeEvent(IReadOnlyList<long> UserIds, ReadOnlyMemory<byte> Frame);

/// <summary>
/// Carries events, after their data has committed, to every API node that may hold a connection of the
/// users concerned. One node: <see cref="InProcessRelay"/>. Several nodes: <see cref="RedisRelay"/>.
/// </summary>
public interface IEventRelay
{
    ValueTask PublishAsync(RealtimeEvent realtimeEvent, CancellationToken ct);
}

public sealed class InProcessRelay(ConnectionRegistry connections) : IEventRelay
{
    public ValueTask PublishAsync(RealtimeEvent realtimeEvent, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("relay publish");
        activity?.SetTag("windi.recipients", realtimeEvent.UserIds.Count);
        connections.Deliver(realtimeEvent);
        return ValueTask.CompletedTask;
    }
}
