using WinDi.Api.Realtime;

namespace WinDi.Tests;

/// <summary>
/// A connection reads on while its sends are stored (ClientConnection.MaxSendsInFlight at once), so that one client's
/// burst shares batches; its sends are still stored in the order it sent them, and every other frame waits for the
/// sends before it. The ordering lock is held from another session so that the writer's first batch waits and the rest
/// of the burst queues behind it.
/// </summary>
public sealed class PipelinedSendsTests(PostgresServer postgres)
{
    [Fact]
    public async Task OneConnectionsBurstOfSendsSharesBatchesIsStoredInOrderAndAPingAfterItIsAnsweredLast()
    {
        const int burst = 40;
        using var batches = new SendBatches();
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annWs = await ann.ConnectAsync();

        await using (await postgres.HoldMessageOrderLockAsync())
        {
            for (var n = 0; n < burst; n++)
            {
                await annWs.SendMessageAsync(chatId, $"burst {n}", $"burst-{n}");
            }
            await annWs.SendAsync("PING");
            await Task.Delay(300);
        }

        var echoes = new List<(string? ClientMessageId, long Id)>();
        for (var n = 0; n < burst; n++)
        {
            var echo = await annWs.ExpectAsync("NEW_MESSAGE");
            echoes.Add((echo.GetProperty("client_message_id").GetString(), echo.GetProperty("id").GetInt64()));
        }
        await annWs.ExpectAsync("PONG");
        Assert.Equal(Enumerable.Range(0, burst).Select(n => $"burst-{n}"), echoes.Select(e => e.ClientMessageId));
        Assert.Equal(echoes.Select(e => e.Id).Order(), echoes.Select(e => e.Id));
        Assert.Equal(string.Join('|', Enumerable.Range(0, burst).Select(n => $"burst {n}")),
            await postgres.ScalarAsync<string>("SELECT string_agg(text, '|' ORDER BY id) FROM messages WHERE chat_id = $1", chatId));

        // Handled one at a time, the burst took 40 batches; read on, it queues behind the first and shares a few, never
        // more than MaxSendsInFlight of it in the writer at once.
        var sizes = batches.SizesFor(chatId);
        Assert.Equal(burst, sizes.Sum());
        Assert.True(sizes.Count <= burst / 4, $"{burst} sends of one connection went in {sizes.Count} batches: {string.Join(", ", sizes)}");
        Assert.True(sizes.Max() <= ClientConnection.MaxSendsInFlight, $"more than {ClientConnection.MaxSendsInFlight} sends of one connection were in flight: {string.Join(", ", sizes)}");
    }

    [Fact]
    public async Task ASyncAfterSendsSeesThemStoredAndAnswersAfterTheirEchoes()
    {
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annWs = await ann.ConnectAsync();

        await using (await postgres.HoldMessageOrderLockAsync())
        {
            await annWs.SendMessageAsync(chatId, "first", "sync-1");
            await annWs.SendMessageAsync(chatId, "second", "sync-2");
            await annWs.SendAsync("SYNC", new { after_id = 0 });
            await Task.Delay(300);
        }

        Assert.Equal("sync-1", (await annWs.ExpectAsync("NEW_MESSAGE")).GetProperty("client_message_id").GetString());
        Assert.Equal("sync-2", (await annWs.ExpectAsync("NEW_MESSAGE")).GetProperty("client_message_id").GetString());
        var page = new[] { await annWs.ExpectAsync("NEW_MESSAGE"), await annWs.ExpectAsync("NEW_MESSAGE") };
        Assert.Equal(["first", "second"], page.Select(m => m.GetProperty("text").GetString()));
        Assert.False((await annWs.ExpectAsync("SYNC_DONE")).GetProperty("has_more").GetBoolean());
    }

    [Fact]
    public async Task AnswersToPipelinedSendsComeInTheOrderOfTheirFrames()
    {
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var carl = await app.RegisterAsync();
        var annsChat = await ann.StartPrivateChatAsync(bob);
        var othersChat = await bob.StartPrivateChatAsync(carl);
        await using var annWs = await ann.ConnectAsync();
        var stored = await annWs.SendAndEchoAsync(annsChat, "already stored", "repeat-me");

        await using (await postgres.HoldMessageOrderLockAsync())
        {
            await annWs.SendMessageAsync(othersChat, "not mine", "answer-1");
            await annWs.SendMessageAsync(annsChat, "", "answer-2");
            await annWs.SendMessageAsync(long.MaxValue, "no such chat", "answer-3");
            await annWs.SendMessageAsync(annsChat, "a repeat", "repeat-me");
            await annWs.SendAsync("PING");
            await Task.Delay(300);
        }

        Assert.Equal("answer-1", (await annWs.ExpectErrorAsync("not_a_member")).GetProperty("client_message_id").GetString());
        Assert.Equal("answer-2", (await annWs.ExpectErrorAsync("validation_failed")).GetProperty("client_message_id").GetString());
        Assert.Equal("answer-3", (await annWs.ExpectErrorAsync("chat_not_found")).GetProperty("client_message_id").GetString());
        Assert.Equal(stored.Id(), (await annWs.ExpectAsync("NEW_MESSAGE")).GetProperty("id").GetInt64());
        await annWs.ExpectAsync("PONG");
    }
}
