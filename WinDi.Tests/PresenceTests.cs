using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

/// <summary>
/// Presence (DESIGN §7): online while holding a WebSocket on any replica, offline within 5 s of the last one
/// closing and within a lease of a replica dying; <c>last_seen</c> when offline.
/// </summary>
public sealed class PresenceTests(PostgresServer postgres, RedisServer redis, TwoReplicas replicas) : IClassFixture<TwoReplicas>
{
    private static readonly TimeSpan OfflineWithin = TimeSpan.FromSeconds(5);

    private readonly WinDiApp a = replicas.A;
    private readonly WinDiApp b = replicas.B;

    [Fact]
    public async Task SomeoneConnectedOnlyToTheOtherReplicaIsOnlineUntilTheirLastDeviceClosesThenOfflineWithinFiveSecondsWithALastSeen()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var laptopOnB = await bob.On(b).ConnectAsync();
        var phoneOnB = await bob.On(b).ConnectAsync();

        var whileConnected = await MemberAsync(ann, chatId, bob.Id);
        var peerWhileConnected = await PeerInListAsync(ann, chatId);
        await phoneOnB.CloseAsync();
        await phoneOnB.DisposeAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        var withOneDeviceLeft = await MemberAsync(ann, chatId, bob.Id);
        var (closedAt, offline) = await CloseAndWaitUntilOfflineAsync(laptopOnB, ann, chatId, bob.Id);

        Assert.True(whileConnected.GetProperty("online").GetBoolean());
        Assert.True(whileConnected.GetProperty("last_seen").GetInt64() > 0, "connected, so seen: last_seen is set (null means never connected)");
        Assert.True(peerWhileConnected.GetProperty("online").GetBoolean());
        Assert.Equal(bob.Id, peerWhileConnected.Id());
        Assert.True(withOneDeviceLeft.GetProperty("online").GetBoolean(), "still online while the laptop stays");
        Assert.InRange(offline.GetProperty("last_seen").GetInt64(), closedAt - 2, closedAt + 5);
        var peer = await PeerInListAsync(ann, chatId);
        Assert.False(peer.GetProperty("online").GetBoolean());
        Assert.Equal(offline.GetProperty("last_seen").GetInt64(), peer.GetProperty("last_seen").GetInt64());
    }

    /// <summary>
    /// The disconnect is written before the lease is given back: whoever sees someone offline sees the time they
    /// left, never the older time they connected. Asked as fast as possible, by four readers at once, a few times, to catch the moment between.
    /// </summary>
    [Fact]
    public async Task TheMomentSomeoneShowsOfflineTheirLastSeenIsAlreadyTheirDisconnect()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        for (var round = 0; round < 5; round++)
        {
            var bobOnB = await bob.On(b).ConnectAsync();
            var connectedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            while (DateTimeOffset.UtcNow.ToUnixTimeSeconds() < connectedAt + 2)
            {
                await Task.Delay(50);
            }
            var closedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var closing = bobOnB.CloseAsync();
            var deadline = DateTime.UtcNow + OfflineWithin;
            var firstSeenOffline = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
            {
                JsonElement member;
                do
                {
                    member = await MemberAsync(ann, chatId, bob.Id);
                    Assert.True(DateTime.UtcNow < deadline, $"round {round}: still online {OfflineWithin} after closing");
                }
                while (member.GetProperty("online").GetBoolean());
                return member.GetProperty("last_seen").GetInt64();
            }));
            await closing;
            await bobOnB.DisposeAsync();

            Assert.All(firstSeenOffline, lastSeen => Assert.True(lastSeen >= closedAt,
                $"round {round}: offline with last_seen {lastSeen}, but they left at {closedAt}"));
        }
    }

    [Fact]
    public async Task AGroupListsEveryMembersPresenceTheCallersOwnIncluded()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var cat = await a.RegisterAsync();
        var group = await ann.CreateGroupAsync("Who is here", bob, cat);
        await using var annOnA = await ann.ConnectAsync();
        await using var catOnB = await cat.On(b).ConnectAsync();

        var members = (await ann.GetJsonAsync($"/chats/{group}")).GetProperty("members").EnumerateArray()
            .ToDictionary(m => m.Id(), m => m.GetProperty("online").GetBoolean());

        Assert.Equal(new Dictionary<long, bool> { [ann.Id] = true, [bob.Id] = false, [cat.Id] = true }, members);
        Assert.False((await ann.GetJsonAsync($"/chats/{group}")).TryGetProperty("peer", out _), "a group has no peer");
    }

    [Fact]
    public async Task SomeoneWhoNeverConnectedIsOfflineWithNoLastSeen()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);

        var member = await MemberAsync(ann, chatId, bob.Id);

        Assert.False(member.GetProperty("online").GetBoolean());
        Assert.Equal(JsonValueKind.Null, member.GetProperty("last_seen").ValueKind);
        Assert.Equal(-1L, await LastSeenInDatabaseAsync(bob.Id));
    }

    [Fact]
    public async Task WithoutRedisASingleNodeSeesItsOwnConnectionsAndLastSeenIsWrittenAtDisconnect()
    {
        await using var node = new WinDiApp(postgres);
        var ann = await node.RegisterAsync();
        var bob = await node.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var bobWs = await bob.ConnectAsync();

        var whileConnected = await MemberAsync(ann, chatId, bob.Id);
        var (closedAt, offline) = await CloseAndWaitUntilOfflineAsync(bobWs, ann, chatId, bob.Id);

        Assert.True(whileConnected.GetProperty("online").GetBoolean());
        Assert.InRange(offline.GetProperty("last_seen").GetInt64(), closedAt - 2, closedAt + 5);
        Assert.Equal(offline.GetProperty("last_seen").GetInt64(), await LastSeenInDatabaseAsync(bob.Id));
    }

    /// <summary>A replica that died writes no disconnect and gives no lease back; its users go offline when their leases end (here, in 2 s).</summary>
    [Fact]
    public async Task SomeoneConnectedOnlyToAReplicaThatDiedGoesOfflineWhenTheLeaseEnds()
    {
        await using var node = new WinDiApp(postgres, new Dictionary<string, string?> { ["ConnectionStrings:redis"] = redis.ConnectionString });
        var ann = await node.RegisterAsync();
        var bob = await node.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = multiplexer.GetDatabase();
        await db.SortedSetAddAsync(ConnectionSlots.KeyOf(bob.Id), "dead-replica", await RedisServer.MillisecondsAsync(db) + 2000);

        var whileTheLeaseLasts = await MemberAsync(ann, chatId, bob.Id);
        var offline = await EventuallyOfflineAsync(ann, chatId, bob.Id, TimeSpan.FromSeconds(2) + OfflineWithin);

        Assert.True(whileTheLeaseLasts.GetProperty("online").GetBoolean());
        Assert.False(offline.GetProperty("online").GetBoolean());
    }

    /// <summary>So that a replica that dies (and writes no disconnect) leaves its users a last_seen at most one round old.</summary>
    [Fact]
    public async Task WhileSomeoneIsConnectedTheirLastSeenIsRecordedEveryRound()
    {
        await using var node = new WinDiApp(postgres, configureServices: services =>
            services.PostConfigure<LastSeenOptions>(options => options.RecordEvery = TimeSpan.FromMilliseconds(300)));
        var bob = await node.RegisterAsync();
        await using var bobWs = await bob.ConnectAsync();
        await bobWs.SendAsync("PING");
        await bobWs.ExpectAsync("PONG");

        var atConnect = await EventuallyAsync(() => LastSeenMicrosecondsAsync(bob.Id), seen => seen > 0, TimeSpan.FromSeconds(5));
        var later = await EventuallyAsync(() => LastSeenMicrosecondsAsync(bob.Id), seen => seen > atConnect, TimeSpan.FromSeconds(5));

        Assert.True(later > atConnect);
    }

    [Fact]
    public async Task WhileRedisIsDownEachReplicaAnswersFromItsOwnConnections()
    {
        await using var privateRedis = await RedisServer.StartPrivateAsync();
        var (first, second) = await TwoReplicas.StartAsync(postgres, privateRedis.ConnectionString);
        await using var _ = first;
        await using var __ = second;
        var ann = await first.RegisterAsync();
        var bob = await first.RegisterAsync();
        var cat = await first.RegisterAsync();
        var group = await ann.CreateGroupAsync("Outage", bob, cat);
        await using var bobOnFirst = await bob.ConnectAsync();
        await using var catOnSecond = await cat.On(second).ConnectAsync();

        await privateRedis.StopAsync();
        var members = (await ann.GetJsonAsync($"/chats/{group}")).GetProperty("members").EnumerateArray()
            .ToDictionary(m => m.Id(), m => m.GetProperty("online").GetBoolean());

        Assert.True(members[bob.Id], "connected to this replica");
        Assert.False(members[cat.Id], "connected to the other replica, which this one cannot see without Redis");
    }

    private static async Task<JsonElement> MemberAsync(TestUser caller, long chatId, long memberId) =>
        (await caller.GetJsonAsync($"/chats/{chatId}")).GetProperty("members").EnumerateArray().Single(m => m.Id() == memberId);

    private static async Task<JsonElement> PeerInListAsync(TestUser caller, long chatId) =>
        (await caller.GetJsonAsync("/chats")).EnumerateArray().Single(c => c.Id() == chatId).GetProperty("peer");

    /// <summary>Closes the member's last connection; returns when (Unix seconds) and how the caller then sees them offline.</summary>
    private static async Task<(long ClosedAt, JsonElement Offline)> CloseAndWaitUntilOfflineAsync(WsClient last, TestUser caller, long chatId, long memberId)
    {
        var closedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await last.CloseAsync();
        await last.DisposeAsync();
        return (closedAt, await EventuallyOfflineAsync(caller, chatId, memberId, OfflineWithin));
    }

    private static Task<JsonElement> EventuallyOfflineAsync(TestUser caller, long chatId, long memberId, TimeSpan within) =>
        EventuallyAsync(() => MemberAsync(caller, chatId, memberId), member => !member.GetProperty("online").GetBoolean(), within);

    private Task<long> LastSeenInDatabaseAsync(long userId) =>
        a.Postgres.ScalarAsync<long>("SELECT COALESCE(floor(extract(epoch FROM last_seen))::bigint, -1) FROM users WHERE id = $1", userId);

    private Task<long> LastSeenMicrosecondsAsync(long userId) =>
        a.Postgres.ScalarAsync<long>("SELECT COALESCE((extract(epoch FROM last_seen) * 1000000)::bigint, -1) FROM users WHERE id = $1", userId);

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }
            Assert.True(DateTime.UtcNow < deadline, $"not within {within}: {value}");
            await Task.Delay(100);
        }
    }
}
