using System.Collections.Concurrent;
using System.Diagnostics;

namespace WinDi.Tests.Infrastructure;

/// <summary>
/// Records the "message send" and "message batch" spans of the process, so that a test can read how its own chat's sends
/// were batched. The listener hears every test in the process: <see cref="SizesFor"/> keeps the batches that carried the
/// chat's sends.
/// </summary>
public sealed class SendBatches : IDisposable
{
    private readonly ConcurrentBag<Activity> sends = [];
    private readonly ConcurrentBag<Activity> batches = [];
    private readonly ActivityListener listener;

    public SendBatches() => listener = Traces.Listen(source => source is "WinDi.Api", activity =>
    {
        if (activity.OperationName == "message send") sends.Add(activity);
        else if (activity.OperationName == "message batch") batches.Add(activity);
    });

    /// <summary>How many sends each batch that carried a send to <paramref name="chatId"/> carried.</summary>
    public List<int> SizesFor(long chatId)
    {
        var chatSends = sends.Where(a => Equals(a.GetTagItem("windi.chat_id"), chatId)).Select(a => a.SpanId).ToHashSet();
        return batches.Where(b => b.Links.Any(link => chatSends.Contains(link.Context.SpanId)))
            .Select(b => (int)b.GetTagItem("windi.batch.sends")!).ToList();
    }

    public void Dispose() => listener.Dispose();
}
