using System.Diagnostics.Metrics;

namespace WinDi.Tests;

/// <summary>
/// Frames queued together leave in one write to the connection (BatchingStream), and still arrive whole and in order.
/// In the collection that runs alone, so that no other test's connection writes while this one counts.
/// </summary>
[Collection(MeasuresMemory.Name)]
public sealed class BatchedWritesTests(PostgresServer postgres)
{
    [Fact]
    public async Task ASyncPageOfTwoHundredFramesLeavesInAFewWritesAndArrivesInOrder()
    {
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await postgres.ExecuteAsync(
            "INSERT INTO messages (chat_id, sender_id, text, client_message_id, created_at) " +
            "SELECT $1, $2, 'batched ' || g, 'batched-' || g, now() FROM generate_series(1, 200) g", chatId, ann.Id);
        await using var bobWs = await bob.ConnectAsync();
        long writes = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, meterListener) =>
        {
            if (instrument.Name == "windi.realtime.socket_writes")
            {
                meterListener.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref writes, value));
        listener.Start();

        var (messages, done) = await bobWs.SyncAsync(0, limit: 200);

        Assert.Equal(Enumerable.Range(1, 200).Select(n => $"batched {n}"), messages.Select(m => m.GetProperty("text").GetString()));
        Assert.False(done.GetProperty("has_more").GetBoolean());
        // 201 frames of about 250 bytes: two or three batches of at most 32 KiB. One write per frame would be 201.
        Assert.InRange(Interlocked.Read(ref writes), 1, 10);
    }
}
