namespace WinDi.Tests;

public sealed class RedisOutageTests(PostgresServer postgres)
{
    [Fact]
    public async Task WhileRedisIsDownSendsSucceedAndWhenItReturnsDeliveryAcrossReplicasResumesWithoutRestart()
    {
        await using var redis = await RedisServer.StartPrivateAsync();
        var (a, b) = await TwoReplicas.StartAsync(postgres, redis.ConnectionString);
        await using var _ = a;
        await using var __ = b;
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annOnA = await ann.ConnectAsync();
        await using var annPhoneOnA = await ann.ConnectAsync();
        await using var bobOnB = await bob.On(b).ConnectAsync();
        using var probeA = a.Anonymous();

        await redis.StopAsync();
        await annOnA.SendMessageAsync(chatId, "sent during the outage", "outage-1");
        var stored = await annOnA.ExpectAsync("NEW_MESSAGE");
        await annPhoneOnA.ExpectAsync("NEW_MESSAGE");
        var health = await probeA.GetAsync("/health");
        var (missed, _) = await bobOnB.SyncAsync(stored.Id() - 1);

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Degraded", await health.Content.ReadAsStringAsync());
        Assert.Equal([stored.Id()], missed.Select(m => m.Id()));

        await redis.StartAsync();
        await EventuallyAsync(async () => await probeA.GetStringAsync("/health") == "Healthy");
        var crossed = false;
        for (var attempt = 0; attempt < 30 && !crossed; attempt++)
        {
            await annOnA.SendMessageAsync(chatId, $"after the outage {attempt}");
            await annOnA.ExpectAsync("NEW_MESSAGE");
            await annPhoneOnA.ExpectAsync("NEW_MESSAGE");
            try
            {
                await bobOnB.ExpectAsync("NEW_MESSAGE", TimeSpan.FromSeconds(1));
                crossed = true;
            }
            catch (TimeoutException)
            {
            }
        }
        Assert.True(crossed, "delivery from replica A to replica B resumed after Redis came back");
    }

    [Fact]
    public async Task ReplicasStartWhileRedisIsDownAndJoinUpWhenItAppears()
    {
        var redis = new RedisProcess(PostgresServer.FreePort());
        await using var _ = redis;
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:redis"] = redis.ConnectionString };
        await using var a = new WinDiApp(postgres, settings);
        await using var b = new WinDiApp(postgres, settings);
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annOnA = await ann.ConnectAsync();
        await using var bobOnB = await bob.On(b).ConnectAsync();
        using var probeB = b.Anonymous();

        Assert.Equal("Degraded", await probeB.GetStringAsync("/health"));
        await annOnA.SendMessageAsync(chatId, "before Redis exists");
        await annOnA.ExpectAsync("NEW_MESSAGE");

        await redis.StartAsync();
        await TwoReplicas.WhenSubscribedAsync(a);
        await TwoReplicas.WhenSubscribedAsync(b);
        await annOnA.SendMessageAsync(chatId, "now with Redis");

        await annOnA.ExpectAsync("NEW_MESSAGE");
        Assert.Equal("now with Redis", (await bobOnB.ExpectAsync("NEW_MESSAGE")).GetProperty("text").GetString());
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(200);
        }
    }
}
