using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using WinDi.Api.Messages;

namespace WinDi.Tests;

/// <summary>Edits, deletes and SYNC {after_seq} across two API replicas sharing PostgreSQL and Redis.</summary>
public sealed class MessageChangeReplicaTests(TwoReplicas replicas) : IClassFixture<TwoReplicas>
{
    private readonly WinDiApp a = replicas.A;
    private readonly WinDiApp b = replicas.B;

    [Fact]
    public async Task AnEditAndADeleteMadeOnOneReplicaReachEveryConnectionOnBothExactlyOnce()
    {
        var ann = await a.RegisterAsync();
        var bob = (await a.RegisterAsync()).On(b);
        var cat = await a.RegisterAsync();
        var group = await ann.CreateGroupAsync("Across", bob, cat);
        await using var annOnA = await ann.ConnectAsync();
        await using var annOnB = await ann.On(b).ConnectAsync();
        await using var bobOnB = await bob.ConnectAsync();
        await using var catOnA = await cat.ConnectAsync();
        var everyone = new[] { annOnA, annOnB, bobOnB, catOnA };
        var sent = await annOnA.SendAndEchoAsync(group, "typo heer");
        foreach (var ws in everyone[1..])
        {
            await ws.ExpectAsync("NEW_MESSAGE");
        }

        await annOnB.EditMessageAsync(sent.Id(), "typo here");
        foreach (var ws in everyone)
        {
            var edit = await ws.ExpectAsync("MESSAGE_EDITED");
            Assert.Equal((sent.Id(), "typo here"), (edit.Id(), edit.GetProperty("text").GetString()));
        }
        await annOnA.DeleteMessageAsync(sent.Id());
        foreach (var ws in everyone)
        {
            Assert.Equal(sent.Id(), (await ws.ExpectAsync("MESSAGE_DELETED")).Id());
            await ws.ExpectNothingPendingAsync();
        }
        Assert.Empty((await bob.GetJsonAsync($"/history/{group}")).EnumerateArray());
    }

    [Fact]
    public async Task SomeoneElsesMessageCannotBeEditedOrDeletedFromTheOtherReplicaEither()
    {
        var ann = await a.RegisterAsync();
        var bob = (await a.RegisterAsync()).On(b);
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var bobOnB = await bob.ConnectAsync();
        await using var annOnA = await ann.ConnectAsync();
        // Sent with both connected, and its relayed frame read first: sent before Bob connected, it could still reach
        // him live (the relay through Redis may be slower than his connect), in the place of the answer this expects.
        var sent = await annOnA.SendAndEchoAsync(chatId, "mine");
        await bobOnB.ExpectAsync("NEW_MESSAGE");

        await bobOnB.EditMessageAsync(sent.Id(), "mine now");
        await bobOnB.ExpectErrorAsync("forbidden");
        await bobOnB.DeleteMessageAsync(sent.Id());
        await bobOnB.ExpectErrorAsync("forbidden");

        await annOnA.ExpectNothingPendingAsync();
        Assert.Equal("mine", (await bob.GetJsonAsync($"/history/{chatId}"))[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task SyncBySeqOnOneReplicaReturnsTheChangesMadeThroughTheOther()
    {
        var ann = await a.RegisterAsync();
        var bob = (await a.RegisterAsync()).On(b);
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annOnA = await ann.ConnectAsync();
        await using var bobOnB = await bob.ConnectAsync();
        // Sent with both connected and read live first, so that no relayed NEW_MESSAGE arrives in the middle of what follows.
        var kept = await annOnA.SendAndEchoAsync(chatId, "kept");
        var dropped = await annOnA.SendAndEchoAsync(chatId, "dropped");
        Assert.Equal([kept.Id(), dropped.Id()], [(await bobOnB.ExpectAsync("NEW_MESSAGE")).Id(), (await bobOnB.ExpectAsync("NEW_MESSAGE")).Id()]);
        await annOnA.EditMessageAsync(kept.Id(), "kept, edited");
        var edit = await annOnA.ExpectAsync("MESSAGE_EDITED");
        await annOnA.DeleteMessageAsync(dropped.Id());
        var delete = await annOnA.ExpectAsync("MESSAGE_DELETED");
        // Live first (so that nothing relayed is still on its way), then the same changes again from SYNC.
        Assert.Equal([edit.ToString(), delete.ToString()], [(await bobOnB.ExpectAsync("MESSAGE_EDITED")).ToString(), (await bobOnB.ExpectAsync("MESSAGE_DELETED")).ToString()]);

        var (fromStart, _) = await bobOnB.SyncChangesAsync(0);
        var (sinceSends, done) = await bobOnB.SyncChangesAsync(dropped.Seq());

        Assert.Equal([("NEW_MESSAGE", kept.Id(), edit.Seq()), ("MESSAGE_DELETED", dropped.Id(), delete.Seq())], fromStart.Select(c => (c.Command(), c.Id(), c.Seq())));
        Assert.Equal([edit.ToString(), delete.ToString()], sinceSends.Select(c => c.ToString()));
        Assert.Equal(delete.Seq(), done.GetProperty("last_seq").GetInt64());
    }

    /// <summary>
    /// Sends, edits and deletes race on both replicas (each replica's writer commits its own batches) while a client
    /// catches up by seq over and over with SYNC's own query. Every change it was shown must be in seq order, and what
    /// it ends up holding must be every message's latest state: a change that committed after a later seq had been
    /// seen would be missed for ever. Without the ordering lock in the writer's batch (VisibleOrder), this failed.
    /// </summary>
    [Fact]
    public async Task SyncBySeqNeverSkipsAChangeWhileManyAreBeingSentAndEditedAtOnce()
    {
        var ann = await a.RegisterAsync();
        var group = await ann.CreateGroupAsync("Busy edits");
        var writers = new List<TestUser>();
        const int writerCount = 8, perWriter = 25;
        for (var i = 0; i < writerCount; i++)
        {
            var writer = await a.RegisterAsync();
            await ann.Http.PostAsync($"/chats/{group}/add-user?user_id={writer.Id}", null);
            writers.Add(writer);
        }
        var writing = Task.WhenAll(writers.Select(async (writer, index) =>
        {
            await using var ws = await (index % 2 == 0 ? writer : writer.On(b)).ConnectAsync();
            async Task<JsonElement> OwnAsync(string command, Func<JsonElement, bool> mine)
            {
                while (true)
                {
                    var frame = await ws.ReceiveAsync(TimeSpan.FromSeconds(30));
                    Assert.NotEqual("ERROR", frame.Command());
                    if (frame.Command() == command && mine(frame)) return frame;
                }
            }
            for (var i = 0; i < perWriter; i++)
            {
                var key = $"{index}-{i}";
                await ws.SendMessageAsync(group, $"burst {key}", key);
                var id = (await OwnAsync("NEW_MESSAGE", f => f.GetProperty("client_message_id").GetString() == key)).Id();
                await ws.EditMessageAsync(id, $"burst {key}, edited");
                await OwnAsync("MESSAGE_EDITED", f => f.Id() == id);
                if (i % 3 == 0)
                {
                    await ws.DeleteMessageAsync(id);
                    await OwnAsync("MESSAGE_DELETED", f => f.Id() == id);
                }
            }
        }));

        var held = new Dictionary<long, (long Seq, ChangeKind Kind, string Text)>();
        var lastSeq = 0L;
        var dataSource = a.Services.GetRequiredService<NpgsqlDataSource>();
        async Task CatchUpAsync()
        {
            var (page, _) = await MessageSync.ChangesAsync(dataSource, ann.Id, lastSeq, 500, CancellationToken.None);
            foreach (var change in page)
            {
                Assert.True(change.Message.Seq > lastSeq, $"seq {change.Message.Seq} came after {lastSeq}");
                lastSeq = change.Message.Seq;
                held[change.Message.Id] = (change.Message.Seq, change.Kind, change.Message.Text);
            }
        }
        while (!writing.IsCompleted)
        {
            await CatchUpAsync();
        }
        await writing;
        await CatchUpAsync();

        var stored = new Dictionary<long, (long Seq, bool Deleted, string Text)>();
        await using (var query = dataSource.CreateCommand("SELECT id, seq, deleted_at IS NOT NULL, text FROM messages WHERE chat_id = $1"))
        {
            query.Parameters.Add(new NpgsqlParameter { Value = group });
            await using var reader = await query.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                stored[reader.GetInt64(0)] = (reader.GetInt64(1), reader.GetBoolean(2), reader.GetString(3));
            }
        }
        Assert.Equal(writerCount * perWriter, stored.Count);
        Assert.Equal(stored.Keys.Order(), held.Keys.Order());
        foreach (var (id, (seq, deleted, text)) in stored)
        {
            // New when first seen, edited when seen before (the cursor moves on): either way, its latest state.
            Assert.Equal((seq, deleted), (held[id].Seq, held[id].Kind == ChangeKind.Deleted));
            if (!deleted)
            {
                Assert.Equal(text, held[id].Text);
            }
        }
    }
}
