using System.Net.Sockets;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

public sealed class LimitsTests(PostgresServer postgres)
{
    [Fact]
    public async Task SendsBeyondTheConnectionsRateAreRefusedAndNotStored()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Limits:SendPerSecond"] = "1", ["Limits:SendBurst"] = "3" });
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var ws = await ann.ConnectAsync();

        for (var i = 0; i < 6; i++)
        {
            await ws.SendMessageAsync(chatId, $"burst {i}", $"burst-{i}");
        }
        var frames = new List<JsonElement>();
        for (var i = 0; i < 6; i++)
        {
            frames.Add(await ws.ReceiveAsync());
        }

        var limited = frames.Where(f => f.GetProperty("command").GetString() == "ERROR").ToList();
        Assert.InRange(limited.Count, 2, 3);
        Assert.All(limited, f => Assert.Equal("rate_limited", f.GetProperty("code").GetString()));
        var stored = await postgres.ScalarAsync<long>("SELECT count(*) FROM messages WHERE sender_id = $1", ann.Id);
        Assert.Equal(6 - limited.Count, stored);
        await ws.SendAsync("PING");
        await ws.ExpectAsync("PONG");
    }

    [Fact]
    public async Task TooManyFailedLoginsLockTheAccountForAWhileButNotOtherAccounts()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Limits:FailedLoginsPerMinute"] = "3" });
        var victim = await app.RegisterAsync();
        var neighbour = await app.RegisterAsync();
        using var http = app.Anonymous();
        FormUrlEncodedContent Form(string email, string password) => new(new Dictionary<string, string> { ["username"] = email, ["password"] = password });

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/token", Form(victim.Email, $"guess {i}"))).StatusCode);
        }
        var locked = await http.PostAsync("/token", Form(victim.Email, "guess 4"));
        var evenTheRightPassword = await http.PostAsync("/token", Form(victim.Email.ToUpperInvariant(), victim.Password));
        var neighbourLogin = await http.PostAsync("/token", Form(neighbour.Email, neighbour.Password));

        await locked.AssertProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.True(locked.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After tells the client how long to wait");
        await evenTheRightPassword.AssertProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal(HttpStatusCode.OK, neighbourLogin.StatusCode);
    }

    [Fact]
    public async Task ASlowReaderDoesNotDelayOthersAndIsDisconnectedWhenItsQueueOverflows()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Limits:ConnectionQueueBytes"] = "32768" },
            NeverReadingClient.SmallServerSendBuffer);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var slow = await app.RegisterAsync();
        var group = await ann.CreateGroupAsync("Mixed speeds", bob, slow);
        await using var slowWs = await NeverReadingClient.ConnectAsync(app, slow.Token);
        await using var bobWs = await bob.ConnectAsync();
        await using var annWs = await ann.ConnectAsync();
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();
        Assert.True(registry.HasConnections(slow.Id));

        const int count = 300;
        var text = new string('€', 500); // about 3 KB a frame once JSON escapes it
        var delivered = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await bobWs.ExpectAsync("NEW_MESSAGE");
            }
        });
        for (var i = 0; i < count; i++)
        {
            await annWs.SendMessageAsync(group, text, $"m-{i}");
            await annWs.ExpectAsync("NEW_MESSAGE");
        }

        await delivered.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(registry.HasConnections(slow.Id), "the slow reader's queue overflowed and it was disconnected");
    }
}
