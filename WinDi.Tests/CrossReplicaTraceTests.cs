using System.Collections.Concurrent;
using System.Diagnostics;

namespace WinDi.Tests;

/// <summary>
/// One SEND_MESSAGE is one trace: its frame, the database batch that stored it, the relay publish, and the
/// delivery on the other replica. Both replicas run in this process (and so do other tests' replicas, all on
/// one Redis channel), so spans are told apart by trace id and by what they did, never by order.
/// </summary>
public sealed class CrossReplicaTraceTests(TwoReplicas replicas) : IClassFixture<TwoReplicas>
{
    [Fact]
    public async Task ASendIsOneTraceFromItsFrameThroughTheDatabaseToTheDeliveryOnTheOtherReplica()
    {
        var recorded = new ConcurrentQueue<Activity>();
        using var listener = Traces.Listen(source => source is "WinDi.Api" or "Microsoft.AspNetCore", recorded.Enqueue);
        var alice = await replicas.A.RegisterAsync();
        var ben = (await replicas.A.RegisterAsync()).On(replicas.B);
        var chatId = await alice.StartPrivateChatAsync(ben);
        await using var aliceOnA = await alice.ConnectAsync();
        await using var benOnB = await ben.ConnectAsync();

        var sends = new List<Activity>();
        foreach (var clientMessageId in new[] { "trace-1", "trace-2" })
        {
            await aliceOnA.SendMessageAsync(chatId, "follow me across replicas", clientMessageId);
            Assert.Equal(clientMessageId, (await benOnB.ExpectAsync("NEW_MESSAGE")).GetProperty("client_message_id").GetString());
            await aliceOnA.ExpectAsync("NEW_MESSAGE");
            sends.Add(await Traces.SingleAsync(recorded, a => a.OperationName == "message send"
                && Equals(a.GetTagItem("windi.chat_id"), chatId) && !sends.Contains(a), "message send"));
        }

        foreach (var send in sends)
        {
            var trace = send.TraceId;
            // The socket's request span lasts as long as the connection: each frame starts its own trace, linked to it.
            Assert.Equal(default, send.ParentSpanId);
            Assert.Equal(ActivityKind.Server, send.Kind);
            Assert.Single(send.Links);

            var batch = await Traces.SingleAsync(recorded, a => a.OperationName == "message batch" && a.Links.Any(l => l.Context.SpanId == send.SpanId), "message batch");
            Assert.Equal(trace, batch.TraceId);
            Assert.Equal(send.SpanId, batch.ParentSpanId);

            var publish = await Traces.SingleAsync(recorded, a => a.OperationName == "relay publish" && a.ParentSpanId == send.SpanId, "relay publish");
            Assert.Equal(trace, publish.TraceId);
            Assert.Equal(ActivityKind.Producer, publish.Kind);

            Assert.Equal(1, publish.GetTagItem("windi.connections"));

            // Every replica on the channel (other tests' too) receives the event, and only B holds a recipient's
            // connection. Exactly one such delivery also means A skipped its own event: Alice is connected there.
            var deliver = await Traces.SingleAsync(recorded, a => a.OperationName == "relay deliver" && a.TraceId == trace
                && Equals(a.GetTagItem("windi.connections"), 1), "relay deliver to Ben");
            Assert.Equal(ActivityKind.Consumer, deliver.Kind);
            Assert.Equal(publish.SpanId, deliver.ParentSpanId);
            Assert.Equal(2, deliver.GetTagItem("windi.recipients"));
            Assert.DoesNotContain(new[] { send, batch, publish, deliver }.SelectMany(a => a.TagObjects), tag => $"{tag.Value}".Contains("follow me", StringComparison.Ordinal));
        }
        Assert.NotEqual(sends[0].TraceId, sends[1].TraceId);
        Assert.Equal(sends[0].Links.Single().Context, sends[1].Links.Single().Context);
    }
}
