using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

public sealed class ConnectionLimitsTests(PostgresServer postgres, RedisServer redis)
{
    private static readonly Dictionary<string, string?> TwoPerUser = new() { ["Limits:ConnectionsPerUser"] = "2" };

    [Fact]
    public async Task OneConnectionBeyondTheLimitIsRefusedWith429BeforeTheUpgrade()
    {
        await using var app = new WinDiApp(postgres, TwoPerUser);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        await using var first = await ann.ConnectAsync();
        await using var second = await ann.ConnectAsync();

        var refused = await RefusedUpgradeAsync(app, ann.Token);
        await using var bobsOwn = await bob.ConnectAsync();

        Assert.Equal(HttpStatusCode.TooManyRequests, refused);
        await first.SendAsync("PING");
        await first.ExpectAsync("PONG");
    }

    [Fact]
    public async Task TheLimitHoldsAcrossReplicasAndAClosedConnectionFreesItsSlotWithinFiveSeconds()
    {
        var (a, b) = await TwoReplicas.StartAsync(postgres, redis.ConnectionString, TwoPerUser);
        await using var _ = a;
        await using var __ = b;
        var ann = await a.RegisterAsync();
        var onA = await ann.ConnectAsync();
        await using var onB = await ann.On(b).ConnectAsync();

        var refusedOnA = await RefusedUpgradeAsync(a, ann.Token);
        var refusedOnB = await RefusedUpgradeAsync(b, ann.Token);
        await onA.CloseAsync();
        await onA.DisposeAsync();
        var reopened = await EventuallyConnectsAsync(b, ann.Token, TimeSpan.FromSeconds(5));

        Assert.Equal(HttpStatusCode.TooManyRequests, refusedOnA);
        Assert.Equal(HttpStatusCode.TooManyRequests, refusedOnB);
        await using (reopened)
        {
            await reopened.SendAsync("PING");
            await reopened.ExpectAsync("PONG");
        }
    }

    /// <summary>
    /// A client that goes away without a close frame (its socket just closes) ends its connection at once, from the failed
    /// read: its slot is free again within seconds, not only after the keep-alive timeout (40 s).
    /// </summary>
    [Fact]
    public async Task AClientThatVanishesWithoutACloseFrameFreesItsSlotWithinFiveSeconds()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Limits:ConnectionsPerUser"] = "1" });
        var ann = await app.RegisterAsync();
        var vanishing = await ann.ConnectAsync();
        var refusedWhileOpen = await RefusedUpgradeAsync(app, ann.Token);

        await vanishing.DisposeAsync(); // aborts the socket: no close handshake
        await using var reopened = await EventuallyConnectsAsync(app, ann.Token, TimeSpan.FromSeconds(5));

        Assert.Equal(HttpStatusCode.TooManyRequests, refusedWhileOpen);
        await reopened.SendAsync("PING");
        await reopened.ExpectAsync("PONG");
    }

    [Fact]
    public async Task WhileRedisIsDownEachReplicaCountsItsOwnConnections()
    {
        await using var privateRedis = await RedisServer.StartPrivateAsync();
        var (a, b) = await TwoReplicas.StartAsync(postgres, privateRedis.ConnectionString, TwoPerUser);
        await using var _ = a;
        await using var __ = b;
        var ann = await a.RegisterAsync();

        await privateRedis.StopAsync();
        await using var firstOnA = await ann.ConnectAsync();
        await using var secondOnA = await ann.ConnectAsync();
        var thirdOnA = await RefusedUpgradeAsync(a, ann.Token);
        await using var firstOnB = await ann.On(b).ConnectAsync();
        await using var secondOnB = await ann.On(b).ConnectAsync();

        Assert.Equal(HttpStatusCode.TooManyRequests, thirdOnA);
        await secondOnB.SendAsync("PING");
        await secondOnB.ExpectAsync("PONG");
        Assert.Contains(a.Logs, line => line.Contains("counted on this replica only", StringComparison.Ordinal));
    }

    /// <summary>A replica that died cannot give its slots back; its leases end by themselves (here, in 2 s).</summary>
    [Fact]
    public async Task SlotsLeftByAReplicaThatDiedFreeThemselvesWhenTheirLeasesEnd()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?>(TwoPerUser) { ["ConnectionStrings:redis"] = redis.ConnectionString });
        var ann = await app.RegisterAsync();
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = multiplexer.GetDatabase();
        var now = await RedisServer.MillisecondsAsync(db);
        await db.SortedSetAddAsync(ConnectionSlots.KeyOf(ann.Id), [new("dead-replica-1", now + 2000), new("dead-replica-2", now + 2000)]);

        var refused = await RefusedUpgradeAsync(app, ann.Token);
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        await using var connected = await ann.ConnectAsync();

        Assert.Equal(HttpStatusCode.TooManyRequests, refused);
        Assert.Equal(1, await db.SortedSetLengthAsync(ConnectionSlots.KeyOf(ann.Id)));
    }

    /// <summary>A half-open connection (the client's machine is gone; nothing answers the server's pings) is closed.</summary>
    [Fact]
    public async Task AConnectionThatStopsAnsweringPingsIsClosedAndOneThatAnswersStays()
    {
        await using var app = new WinDiApp(postgres, configureServices: services => services.PostConfigure<WebSocketOptions>(options =>
        {
            options.KeepAliveInterval = TimeSpan.FromSeconds(1);
            options.KeepAliveTimeout = TimeSpan.FromSeconds(1);
        }));
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();
        await using var silent = await NeverReadingClient.ConnectAsync(app, ann.Token);
        await using var alive = await bob.ConnectAsync();

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (registry.HasConnections(ann.Id) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.False(registry.HasConnections(ann.Id), "the connection that answered no ping was closed");
        Assert.True(registry.HasConnections(bob.Id));
        await alive.SendAsync("PING");
        await alive.ExpectAsync("PONG");
    }

    [Fact]
    public async Task AnUpgradeRequestThatNeverFinishesIsDropped()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Kestrel:Limits:RequestHeadersTimeout"] = "00:00:02" });
        var ann = await app.RegisterAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(app.BaseAddress.Host, app.BaseAddress.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /ws/{ann.Token} HTTP/1.1\r\nHost: {app.BaseAddress.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"));

        var buffer = new byte[4096];
        var read = -1;
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            // Kestrel may answer 408 before closing; what matters is that the connection ends.
            while ((read = await stream.ReadAsync(buffer, wait.Token)) > 0)
            {
            }
        }
        catch (IOException)
        {
            read = 0; // reset by the server
        }

        Assert.Equal(0, read);
        Assert.False(app.Services.GetRequiredService<ConnectionRegistry>().HasConnections(ann.Id));
    }

    private static async Task<HttpStatusCode> RefusedUpgradeAsync(WinDiApp app, string token)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(app.WebSocketUri($"/ws/{token}"), CancellationToken.None));
        return socket.HttpStatusCode;
    }

    private static async Task<WsClient> EventuallyConnectsAsync(WinDiApp app, string token, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            try
            {
                return await WsClient.ConnectAsync(app, token);
            }
            catch (WebSocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }
}
