using System.Collections.Concurrent;
using System.Diagnostics;

namespace WinDi.Tests;

/// <summary>
/// Edits and deletes go through the group-committing writer with the sends: its batches, their one round trip, and
/// the halving of a batch the database refuses. The ordering lock is held from another session so that writes queue
/// up behind a first one and really share a batch.
/// </summary>
public sealed class WriterChangeTests(PostgresServer postgres)
{
    private const string Refused = "zzz-refused-zzz";

    [Fact]
    public async Task AnEditAndADeleteCostOneDatabaseRoundTripEach()
    {
        using var roundTrips = new RoundTrips("message edit", "message delete");
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var ws = await ann.ConnectAsync();
        var id = (await ws.SendAndEchoAsync(chatId, "count my round trips")).Id();

        await ws.EditMessageAsync(id, "count them again");
        await ws.ExpectAsync("MESSAGE_EDITED");
        await ws.DeleteMessageAsync(id);
        await ws.ExpectAsync("MESSAGE_DELETED");
        // Answered in turn: the delete's handler, and its span, have ended. Its batch's span ends a moment after.
        await ws.ExpectNothingPendingAsync(TimeSpan.Zero);
        List<Activity> Mine() => [.. roundTrips.Frames.Where(c => Equals(c.GetTagItem("windi.message_id"), id))];
        for (var wait = 0; wait < 50 && Mine().Count(roundTrips.HasBatch) < 2; wait++)
        {
            await Task.Delay(100);
        }

        var mine = Mine();
        Assert.Equal(["Deleted", "Edited"], mine.Select(c => (string)c.GetTagItem("windi.change_status")!).Order(StringComparer.Ordinal));
        foreach (var change in mine)
        {
            roundTrips.AssertOneRoundTrip(change);
        }
    }

    [Fact]
    public async Task TwoChangesOfOneMessageQueuedTogetherAreBothMadeInTheOrderTheyCame()
    {
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var message = await ann.SendAsync(chatId, "v1");
        await using var primer = await ann.ConnectAsync();
        await using var first = await ann.ConnectAsync();
        await using var second = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();

        await using (await postgres.HoldMessageOrderLockAsync())
        {
            await primer.SendMessageAsync(chatId, "primer");
            await Task.Delay(300); // the primer's batch waits on the lock; what comes now queues behind it, together
            await first.EditMessageAsync(message.Id(), "v2");
            await Task.Delay(100);
            await second.EditMessageAsync(message.Id(), "v3");
            await Task.Delay(300);
        }

        Assert.Equal("primer", (await bobWs.ExpectAsync("NEW_MESSAGE")).GetProperty("text").GetString());
        var v2 = await bobWs.ExpectAsync("MESSAGE_EDITED");
        var v3 = await bobWs.ExpectAsync("MESSAGE_EDITED");
        Assert.Equal(["v2", "v3"], new[] { v2, v3 }.Select(e => e.GetProperty("text").GetString()));
        Assert.True(v3.Seq() > v2.Seq());
        foreach (var ws in new[] { first, second })
        {
            await ws.ExpectAsync("NEW_MESSAGE");
            await ws.ExpectAsync("MESSAGE_EDITED");
            await ws.ExpectAsync("MESSAGE_EDITED");
            await ws.ExpectNothingPendingAsync(TimeSpan.Zero);
        }
        var stored = Assert.Single((await bob.GetJsonAsync($"/history/{chatId}")).EnumerateArray(), m => m.Id() == message.Id());
        Assert.Equal(("v3", v3.Seq()), (stored.GetProperty("text").GetString(), stored.Seq()));
    }

    /// <summary>The edit's UPDATE breaks a CHECK constraint of this test's own database (as the sends of WriterIsolationTests do).</summary>
    [Fact]
    public async Task AnEditTheDatabaseRefusesFailsAloneAndTheRestOfItsBatchOfSendsEditsAndDeletesIsStored()
    {
        var connectionString = await postgres.CreateRefusingDatabaseAsync("windi_refusing_edits", Refused);
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["ConnectionStrings:windi"] = connectionString });
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var (x, y, z) = ((await ann.SendAsync(chatId, "x")).Id(), (await ann.SendAsync(chatId, "y")).Id(), (await ann.SendAsync(chatId, "z")).Id());
        var devices = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => ann.ConnectAsync()));
        await using var bobWs = await bob.ConnectAsync();

        await using (await postgres.HoldMessageOrderLockAsync(connectionString))
        {
            await devices[0].SendMessageAsync(chatId, "primer");
            await Task.Delay(300);
            Func<Task>[] writes =
            [
                () => devices[1].SendMessageAsync(chatId, "fine 1"),
                () => devices[2].EditMessageAsync(x, $"{Refused} x"),
                () => devices[3].EditMessageAsync(y, "y edited"),
                () => devices[4].DeleteMessageAsync(z),
                () => devices[5].SendMessageAsync(chatId, "fine 2"),
            ];
            foreach (var write in writes)
            {
                await write();
                await Task.Delay(50);
            }
            await Task.Delay(300);
        }

        var refusal = await devices[2].ReceiveAsync();
        while (refusal.Command() != "ERROR")
        {
            refusal = await devices[2].ReceiveAsync();
        }
        Assert.Equal(("internal", x), (refusal.GetProperty("code").GetString(), refusal.Id()));
        // Bob hears every write but the refused one, once each, in seq order.
        var heard = new List<JsonElement>();
        for (var i = 0; i < 5; i++)
        {
            heard.Add(await bobWs.ReceiveAsync());
        }
        await bobWs.ExpectNothingPendingAsync(TimeSpan.Zero);
        Assert.Equal(heard.Select(h => h.Seq()).Order(), heard.Select(h => h.Seq()));
        Assert.Equal(["MESSAGE_DELETED z", "MESSAGE_EDITED y edited", "NEW_MESSAGE fine 1", "NEW_MESSAGE fine 2", "NEW_MESSAGE primer"],
            heard.Select(h => $"{h.Command()} {(h.Command() == "MESSAGE_DELETED" ? "z" : h.GetProperty("text").GetString())}").Order(StringComparer.Ordinal));
        Assert.Equal(z, heard.Single(h => h.Command() == "MESSAGE_DELETED").Id());
        Assert.Equal(["fine 1", "fine 2", "primer", "x", "y edited"],
            (await bob.GetJsonAsync($"/history/{chatId}")).EnumerateArray().Select(m => m.GetProperty("text").GetString()).Order(StringComparer.Ordinal));
        Assert.Contains(app.Logs, line => line.Contains("refused a batch of 5 write(s)", StringComparison.Ordinal));
        Assert.DoesNotContain(app.Logs, line => line.Contains(Refused, StringComparison.Ordinal));
        foreach (var ws in devices)
        {
            await ws.DisposeAsync();
        }
    }
}
