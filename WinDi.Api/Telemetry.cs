using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace WinDi.Api;

/// <summary>The API's own spans and instruments; ServiceDefaults exports the source named after the application.</summary>
public static class Telemetry
{
    public const string Name = "WinDi.Api";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);
    public static readonly Counter<long> MessagesStored = Meter.CreateCounter<long>("windi.messages.stored", description: "Messages stored (duplicates excluded)");
    public static readonly Counter<long> MessagesChanged = Meter.CreateCounter<long>("windi.messages.changed", description: "Messages edited or deleted");
    public static readonly Counter<long> FramesDelivered = Meter.CreateCounter<long>("windi.realtime.frames.delivered", description: "Frames queued for WebSocket connections");
    public static readonly Counter<long> WebSocketWrites = Meter.CreateCounter<long>("windi.realtime.socket_writes", description: "Writes to WebSocket connections, each a batch of frames or one control frame (frames delivered / writes = frames per write)");
    public static readonly Counter<long> ConnectionsOverflowed = Meter.CreateCounter<long>("windi.realtime.connections.overflowed", description: "Connections closed because their outgoing queue was full");
    public static readonly Counter<long> RelayPublished = Meter.CreateCounter<long>("windi.relay.published", description: "Events published to the other replicas");
    public static readonly Counter<long> RelayPublishFailures = Meter.CreateCounter<long>("windi.relay.publish_failures", description: "Events the other replicas missed because Redis was unreachable");
    public static readonly Counter<long> RelayReceived = Meter.CreateCounter<long>("windi.relay.received", description: "Events received from other replicas");
    public static readonly UpDownCounter<long> OpenConnections = Meter.CreateUpDownCounter<long>("windi.realtime.connections", description: "Open WebSocket connections");
}
