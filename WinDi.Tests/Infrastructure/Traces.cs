using System.Collections.Concurrent;
using System.Diagnostics;

namespace WinDi.Tests.Infrastructure;

/// <summary>Records the spans of the whole test process: every test and every replica in it shares one listener list.</summary>
public static class Traces
{
    public static ActivityListener Listen(Func<string, bool> sources, Action<Activity> stopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => sources(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    /// <summary>
    /// The one recorded span that matches, once it has stopped. A span may stop a moment after the frame it
    /// produced reaches the client, so this waits for it (and then for a late duplicate) instead of reading once.
    /// </summary>
    public static async Task<Activity> SingleAsync(ConcurrentQueue<Activity> recorded, Func<Activity, bool> match, string what)
    {
        var deadline = DateTime.UtcNow + WsClient.DefaultWait;
        while (!recorded.Any(match))
        {
            Assert.True(DateTime.UtcNow < deadline, $"No {what} span was recorded.");
            await Task.Delay(20);
        }
        await Task.Delay(100);
        var matches = recorded.Where(match).ToList();
        Assert.True(matches.Count == 1, $"{matches.Count} {what} spans were recorded, expected one.");
        return matches[0];
    }
}
