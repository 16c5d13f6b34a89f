using System.Diagnostics;
using StackExchange.Redis;
using WinDi.Api.Auth;

namespace WinDi.Api.Realtime;

/// <summary>
/// Relays events between API replicas over one Redis pub/sub channel (the layout and its measurements are in
/// the README). A batch of events is delivered to this node's connections at once, then published without waiting,
/// as one envelope; every other replica delivers it to its own connections of the recipients. Redis is never on the path
/// of a send: when it is down, publishing fails fast, this node's clients still get everything, the others
/// catch up with SYNC, and the subscription comes back by itself when Redis does.
/// Each envelope carries the trace context of its "relay publish" span, so the "relay deliver" span on every
/// other replica joins the sender's trace. Ended sessions go on a channel of their own (<see cref="SessionsChannelName"/>),
/// so that the events' envelope and its hot path stay as they are.
/// </summary>
public sealed partial class RedisRelay(IConnectionMultiplexer redis, ConnectionRegistry connections, AccessCheck access, RelayKey key,
    ILogger<RedisRelay> logger)
    : BackgroundService, IEventRelay
{
    public const string ChannelName = "windi:events";
    public const string SessionsChannelName = "windi:sessions";
    private static readonly RedisChannel Channel = RedisChannel.Literal(ChannelName);
    private static readonly RedisChannel SessionsChannel = RedisChannel.Literal(SessionsChannelName);

    private readonly Guid node = Guid.NewGuid();
    private readonly TaskCompletionSource subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int publishFailuresLogged;

    /// <summary>Completes once this node receives other nodes' events.</summary>
    public Task Subscribed => subscribed.Task;

    /// <summary>
    /// Delivers to this node's connections and publishes to the others, in one Producer span and one envelope. Without
    /// a listener there is no span (StartActivity returns null and allocates nothing), and the envelope carries the
    /// caller's context if it has one.
    /// </summary>
    public ValueTask PublishAsync(IReadOnlyList<RealtimeEvent> events, ActivityContext parent, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("relay publish", ActivityKind.Producer, parent);
        if (activity is not null)
        {
            activity.SetTag("windi.recipients", RealtimeEvent.CountRecipients(events));
            activity.SetTag("windi.events", events.Count);
            activity.SetTag("messaging.system", "redis");
            activity.SetTag("messaging.destination.name", ChannelName);
        }
        var offered = connections.Deliver(events);
        activity?.SetTag("windi.connections", offered);
        var relayed = RealtimeEvent.Relayed(events);
        if (relayed.Count > 0)
        {
            _ = PublishToOtherNodesAsync(Channel, RelayEnvelope.Encode(key, node, Activity.Current?.Context ?? default, relayed), relayed.Count);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Ends the session here, then tells the other nodes. While Redis is down they do not hear of it: they refuse its
    /// tokens within AccessCheck's 5 s all the same, and its sockets there close when their token expires.
    /// </summary>
    public void PublishSessionEnded(EndedSession ended)
    {
        connections.EndSession(ended, access);
        _ = PublishToOtherNodesAsync(SessionsChannel, SessionEndedEnvelope.Encode(key, node, ended), events: 0);
    }

    /// <param name="events">How many events the envelope carries, for the relay's counters.</param>
    private async Task PublishToOtherNodesAsync(RedisChannel channel, byte[] envelope, int events)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(channel, envelope);
            Telemetry.RelayPublished.Add(events);
            // Read first: a shared write on every publish would contend between threads for nothing.
            if (Volatile.Read(ref publishFailuresLogged) != 0)
            {
                Interlocked.Exchange(ref publishFailuresLogged, 0);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            Telemetry.RelayPublishFailures.Add(events);
            // One warning per outage, not one per message.
            if (Interlocked.Exchange(ref publishFailuresLogged, 1) == 0)
            {
                Log.PublishFailed(logger, e);
            }
        }
    }

    /// <summary>
    /// Subscribes once Redis answers (it may be down at start). After that StackExchange.Redis restores the
    /// subscription on every reconnect. Messages are handled one at a time, in order, and handling never
    /// blocks: delivery only queues frames.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var sessions = await redis.GetSubscriber().SubscribeAsync(SessionsChannel);
                sessions.OnMessage(ReceiveSessionEnded);
                var queue = await redis.GetSubscriber().SubscribeAsync(Channel);
                queue.OnMessage(Receive);
                subscribed.TrySetResult();
                Log.Subscribed(logger, ChannelName);
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                Log.SubscribeFailed(logger, e);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private void Receive(ChannelMessage message)
    {
        try
        {
            var (origin, trace, events) = RelayEnvelope.Decode(key, (byte[])message.Message!);
            if (origin == node)
            {
                return;
            }
            Telemetry.RelayReceived.Add(events.Length);
            using var activity = StartDeliver(trace, events);
            var offered = connections.Deliver(events);
            activity?.SetTag("windi.connections", offered);
        }
        catch (FormatException e)
        {
            Log.MalformedEnvelope(logger, e);
        }
    }

    private void ReceiveSessionEnded(ChannelMessage message)
    {
        try
        {
            var (origin, ended) = SessionEndedEnvelope.Decode(key, (byte[])message.Message!);
            if (origin != node)
            {
                connections.EndSession(ended, access);
            }
        }
        catch (FormatException e)
        {
            Log.MalformedEnvelope(logger, e);
        }
    }

    /// <summary>
    /// A Consumer span whose parent is the publisher's span on the other replica (no remote parent when the
    /// envelope carries no context). Null when nobody listens, checked before the context's ids are parsed:
    /// parsing them allocates. It records counts only, never the frame or anything from it.
    /// </summary>
    private static Activity? StartDeliver(RelayTrace trace, RealtimeEvent[] events)
    {
        if (!Telemetry.Source.HasListeners())
        {
            return null;
        }
        var activity = Telemetry.Source.StartActivity("relay deliver", ActivityKind.Consumer, trace.ToActivityContext());
        if (activity is not null)
        {
            activity.SetTag("windi.recipients", RealtimeEvent.CountRecipients(events));
            activity.SetTag("windi.events", events.Length);
            activity.SetTag("messaging.system", "redis");
            activity.SetTag("messaging.destination.name", ChannelName);
        }
        return activity;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await redis.GetSubscriber().UnsubscribeAsync(Channel).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await redis.GetSubscriber().UnsubscribeAsync(SessionsChannel).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Relaying events through Redis channel {Channel}")]
        public static partial void Subscribed(ILogger logger, string channel);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot subscribe to Redis yet; retrying")]
        public static partial void SubscribeFailed(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing to Redis failed: other replicas miss events until it returns (their clients catch up with SYNC)")]
        public static partial void PublishFailed(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Error, Message = "Dropped a relay envelope that is malformed or failed authentication")]
        public static partial void MalformedEnvelope(ILogger logger, Exception exception);
    }
}
