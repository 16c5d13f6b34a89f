using System.Collections.Concurrent;
using System.Diagnostics;

namespace WinDi.Tests.Infrastructure;

/// <summary>
/// Counts the database round trips of frames from their spans: the frames' own spans (by name), the writer's batch
/// spans, which link the frames they carried, and Npgsql's command spans under each batch.
/// </summary>
public sealed class RoundTrips : IDisposable
{
    private readonly ActivityListener listener;
    private readonly ConcurrentBag<Activity> databaseCalls = [];

    public RoundTrips(params string[] frameSpans) =>
        listener = Traces.Listen(source => source is "WinDi.Api" or "Npgsql", activity =>
        {
            if (frameSpans.Contains(activity.OperationName)) Frames.Add(activity);
            else if (activity.OperationName == "message batch") Batches.Add(activity);
            else if (activity.Source.Name == "Npgsql") databaseCalls.Add(activity);
        });

    public ConcurrentBag<Activity> Frames { get; } = [];

    public ConcurrentBag<Activity> Batches { get; } = [];

    /// <summary>Whether some batch span links the frame's span (a batch's span ends a moment after the frame is answered).</summary>
    public bool HasBatch(Activity frame) => Batches.Any(b => b.Links.Any(link => link.Context.SpanId == frame.SpanId));

    /// <summary>
    /// The frame went in exactly one batch, and that batch made exactly one database call. Physical connection opens
    /// belong to the pool, not to the frame: Npgsql names their spans "CONNECT {database}", and one shows under the batch
    /// when the pool has no idle connection (a connection's last_seen write may hold one).
    /// </summary>
    public void AssertOneRoundTrip(Activity frame)
    {
        var batch = Assert.Single(Batches, b => b.Links.Any(link => link.Context.SpanId == frame.SpanId));
        Assert.Single(databaseCalls, call => call.ParentSpanId == batch.SpanId && !call.OperationName.StartsWith("CONNECT", StringComparison.Ordinal));
    }

    public void Dispose() => listener.Dispose();
}
