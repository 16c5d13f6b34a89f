using Microsoft.Extensions.DependencyInjection;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

/// <summary>Measures this process's memory, so it runs while no other test allocates beside it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuresMemory
{
    public const string Name = "measures memory";
}

[Collection(MeasuresMemory.Name)]
public sealed class OutputBoundTests(PostgresServer postgres)
{
    private const long QueueBytes = 4 * 1024 * 1024;

    /// <summary>
    /// The attack: a client that never reads asks for a thousand full SYNC pages (about 3 MB each). Before the
    /// queue was bounded in bytes, each page was one entry of a queue bounded in frames, and the server held
    /// them all (gigabytes). Now the connection is closed once its output passes Limits:ConnectionQueueBytes.
    /// </summary>
    [Fact]
    public async Task AClientThatNeverReadsCannotMakeTheServerHoldMoreThanItsQueueBound()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Limits:ConnectionQueueBytes"] = QueueBytes.ToString() },
            NeverReadingClient.SmallServerSendBuffer);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        // A thousand messages of 500 '€', about 3 KB a frame once JSON escapes them: one full SYNC page is 3 MB.
        var inserted = await postgres.ScalarAsync<long>(
            "WITH added AS (INSERT INTO messages (chat_id, sender_id, text, client_message_id) " +
            "SELECT $1, $2, repeat('€', 500), 'bulk-' || g FROM generate_series(1, 1000) g RETURNING 1) SELECT count(*) FROM added",
            chatId, ann.Id);
        Assert.Equal(1000, inserted);
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);

        await using var attacker = await NeverReadingClient.ConnectAsync(app, bob.Token);
        var peak = 0L;
        for (var i = 0; i < 1000 && registry.HasConnections(bob.Id); i++)
        {
            try
            {
                await attacker.SendAsync("SYNC", new { after_id = 0, limit = 1000 }).WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or TimeoutException or IOException)
            {
                break; // the server closed the connection (or stopped reading it)
            }
            if (i % 20 == 0)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true) - baseline);
            }
        }
        var closedWithin = TimeSpan.FromSeconds(30);
        var deadline = DateTime.UtcNow + closedWithin;
        while (registry.HasConnections(bob.Id) && DateTime.UtcNow < deadline)
        {
            peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true) - baseline);
            await Task.Delay(250);
        }

        Assert.False(registry.HasConnections(bob.Id), $"the connection that never reads is closed within {closedWithin}");
        // The bound, one SYNC page being built, and the noise of a test host; the attack without a bound holds gigabytes.
        Assert.True(peak < 3 * QueueBytes + 16 * 1024 * 1024, $"the server held {peak / 1024 / 1024} MiB for one client");
        await using var ws = await bob.ConnectAsync();
        var (messages, _) = await ws.SyncAsync(0, 10);
        Assert.Equal(10, messages.Count); // the owner reconnects and catches up as usual
    }

    [Fact]
    public async Task SyncAndReadReceiptsAreMeteredLikeSends()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Limits:SendPerSecond"] = "1", ["Limits:SendBurst"] = "3" });
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var messageId = (await ann.SendAsync(chatId, "read me")).GetProperty("id").GetInt64();
        await using var ws = await bob.ConnectAsync();

        var limitedSyncs = 0;
        for (var i = 0; i < 6; i++)
        {
            await ws.SendAsync("SYNC", new { after_id = 0, limit = 1 });
            var answer = await ws.ReceiveAsync();
            if (answer.GetProperty("command").GetString() == "ERROR")
            {
                Assert.Equal("rate_limited", answer.GetProperty("code").GetString());
                limitedSyncs++;
            }
            else
            {
                await ws.ExpectAsync("SYNC_DONE");
            }
        }
        for (var i = 0; i < 6; i++)
        {
            await ws.SendAsync("READ_MESSAGE", new { id = messageId });
        }
        await ws.SendAsync("PING");
        var limitedReads = 0;
        for (var answer = await ws.ReceiveAsync(); answer.GetProperty("command").GetString() != "PONG"; answer = await ws.ReceiveAsync())
        {
            if (answer.GetProperty("command").GetString() == "ERROR")
            {
                Assert.Equal("rate_limited", answer.GetProperty("code").GetString());
                Assert.Equal(messageId, answer.GetProperty("id").GetInt64());
                limitedReads++;
            }
        }

        Assert.True(limitedSyncs >= 2, $"{limitedSyncs} of 6 SYNCs beyond a burst of 3 were refused");
        Assert.True(limitedReads >= 5, $"{limitedReads} of 6 reads after the budget ran out were refused");
    }
}
