namespace WinDi.Tests;

/// <summary>TYPING (DESIGN §7): relayed to the other members, on one node and across replicas, at most once per user and chat every 2 s.</summary>
public sealed class TypingTests(SharedApp shared, TwoReplicas replicas, PostgresServer postgres) : IClassFixture<SharedApp>, IClassFixture<TwoReplicas>
{
    private static readonly TimeSpan PastTheWindow = TimeSpan.FromSeconds(2.3);

    private readonly WinDiApp app = shared.App;
    private readonly WinDiApp a = replicas.A;
    private readonly WinDiApp b = replicas.B;

    [Fact]
    public async Task TypingReachesEveryConnectionOfTheOtherMembersButNotTheTypersOwnNorNonMembers()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var cat = await app.RegisterAsync();
        var dan = await app.RegisterAsync();
        var group = await ann.CreateGroupAsync("Typing", bob, cat);
        await using var annTyping = await ann.ConnectAsync();
        await using var annsPhone = await ann.ConnectAsync();
        await using var bobOnLaptop = await bob.ConnectAsync();
        await using var bobOnPhone = await bob.ConnectAsync();
        await using var catWs = await cat.ConnectAsync();
        await using var outsider = await dan.ConnectAsync();

        await annTyping.SendAsync("TYPING", new { chat_id = group });

        await AssertHeardOnlyByAsync(group, ann.Id, heard: [bobOnLaptop, bobOnPhone, catWs], notHeard: [annTyping, annsPhone, outsider]);
    }

    [Fact]
    public async Task TypingOnOneReplicaReachesTheOtherMembersOnBothReplicasButNotTheTypersOwnConnections()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var cat = await a.RegisterAsync();
        var dan = await a.RegisterAsync();
        var group = await ann.CreateGroupAsync("Typing across", bob, cat);
        await using var annOnA = await ann.ConnectAsync();
        await using var annOnB = await ann.On(b).ConnectAsync();
        await using var bobOnA = await bob.ConnectAsync();
        await using var bobOnB = await bob.On(b).ConnectAsync();
        await using var catOnB = await cat.On(b).ConnectAsync();
        await using var outsiderOnB = await dan.On(b).ConnectAsync();

        await annOnA.SendAsync("TYPING", new { chat_id = group });

        await AssertHeardOnlyByAsync(group, ann.Id, heard: [bobOnA, bobOnB, catOnB], notHeard: [annOnA, annOnB, outsiderOnB]);
    }

    [Fact]
    public async Task ASecondTypingWithinTwoSecondsIsDroppedEvenFromAnotherConnectionAndOneAfterTwoSecondsGoesThrough()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var otherChat = await ann.CreateGroupAsync("Another chat", bob);
        await using var annWs = await ann.ConnectAsync();
        await using var annsPhone = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();

        await annWs.SendAsync("TYPING", new { chat_id = chatId });
        await annWs.SendAsync("TYPING", new { chat_id = chatId });
        await annsPhone.SendAsync("TYPING", new { chat_id = chatId });
        // The window is per chat: typing in another chat goes out at once.
        await annWs.SendAsync("TYPING", new { chat_id = otherChat });

        await ExpectTypingAsync(bobWs, chatId, ann.Id);
        await ExpectTypingAsync(bobWs, otherChat, ann.Id);
        await bobWs.ExpectNothingPendingAsync();
        // Dropped without an answer.
        await annWs.ExpectNothingPendingAsync(TimeSpan.Zero);
        await annsPhone.ExpectNothingPendingAsync(TimeSpan.Zero);

        await Task.Delay(PastTheWindow);
        await annsPhone.SendAsync("TYPING", new { chat_id = chatId });
        await ExpectTypingAsync(bobWs, chatId, ann.Id);
    }

    /// <summary>The window is shared through Redis: the same person typing on the other replica within it is dropped too.</summary>
    [Fact]
    public async Task ASecondTypingWithinTwoSecondsFromTheSameUserOnTheOtherReplicaIsDropped()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annOnA = await ann.ConnectAsync();
        await using var annOnB = await ann.On(b).ConnectAsync();
        await using var bobOnA = await bob.ConnectAsync();
        await using var bobOnB = await bob.On(b).ConnectAsync();

        await annOnA.SendAsync("TYPING", new { chat_id = chatId });
        await ExpectTypingAsync(bobOnA, chatId, ann.Id);
        await annOnB.SendAsync("TYPING", new { chat_id = chatId });

        await ExpectTypingAsync(bobOnB, chatId, ann.Id);
        await bobOnA.ExpectNothingPendingAsync();
        await bobOnB.ExpectNothingPendingAsync();

        await Task.Delay(PastTheWindow);
        await annOnB.SendAsync("TYPING", new { chat_id = chatId });
        await ExpectTypingAsync(bobOnA, chatId, ann.Id);
        await ExpectTypingAsync(bobOnB, chatId, ann.Id);
    }

    /// <summary>Without Redis each replica limits alone, and the relay reaches the typer's replica only, as for messages.</summary>
    [Fact]
    public async Task WhileRedisIsDownTypingStillReachesMembersOnTheSameReplicaAndEachReplicaKeepsTheWindow()
    {
        await using var redis = await RedisServer.StartPrivateAsync();
        var (first, second) = await TwoReplicas.StartAsync(postgres, redis.ConnectionString);
        await using var _ = first;
        await using var __ = second;
        var ann = await first.RegisterAsync();
        var bob = await first.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annWs = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();

        await redis.StopAsync();
        await annWs.SendAsync("TYPING", new { chat_id = chatId });
        await annWs.SendAsync("TYPING", new { chat_id = chatId });

        await ExpectTypingAsync(bobWs, chatId, ann.Id);
        await bobWs.ExpectNothingPendingAsync();
        await annWs.ExpectNothingPendingAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task EveryTypingInAChatYouAreNotInGetsNotAMemberAndInAChatThatDoesNotExistChatNotFound()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var outsider = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var bobWs = await bob.ConnectAsync();
        await using var outsiderWs = await outsider.ConnectAsync();

        // Each one answered, a repeat within the 2-second window included: only relayed TYPINGs have a window.
        foreach (var _ in new[] { "first", "repeat" })
        {
            await outsiderWs.SendAsync("TYPING", new { chat_id = chatId });
            await outsiderWs.ExpectErrorAsync("not_a_member");
            await outsiderWs.SendAsync("TYPING", new { chat_id = long.MaxValue });
            await outsiderWs.ExpectErrorAsync("chat_not_found");
        }

        await bobWs.ExpectNothingPendingAsync();
        await outsiderWs.ExpectNothingPendingAsync(TimeSpan.Zero);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"chat_id": "one"}""")]
    [InlineData("""{"chat_id": 0}""")]
    [InlineData("[1]")]
    public async Task ATypingWithoutAChatIdGetsValidationFailed(string payload)
    {
        var ann = await app.RegisterAsync();
        await using var ws = await ann.ConnectAsync();

        await ws.SendRawAsync($$"""{"command": "TYPING", "payload": {{payload}}}""");

        await ws.ExpectErrorAsync("validation_failed");
        await ws.ExpectNothingPendingAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task TypingStoresNothing()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var (messagesBefore, membersBefore) = await CountRowsAsync(chatId);
        await using var annOnA = await ann.ConnectAsync();
        await using var bobOnB = await bob.On(b).ConnectAsync();

        await annOnA.SendAsync("TYPING", new { chat_id = chatId });
        await ExpectTypingAsync(bobOnB, chatId, ann.Id);

        Assert.Equal((messagesBefore, membersBefore), await CountRowsAsync(chatId));
        Assert.Equal(0L, messagesBefore);
        Assert.Empty((await bob.GetJsonAsync($"/history/{chatId}")).EnumerateArray());
    }

    /// <summary>The chat's messages, and its members' rows with their read markers (which a stored receipt would move).</summary>
    private async Task<(long Messages, string Members)> CountRowsAsync(long chatId) => (
        await a.Postgres.ScalarAsync<long>("SELECT count(*) FROM messages WHERE chat_id = $1", chatId),
        await a.Postgres.ScalarAsync<string>(
            "SELECT string_agg(user_id || ':' || last_read_message_id, ',' ORDER BY user_id) FROM chat_members WHERE chat_id = $1", chatId));

    /// <summary>Each of <paramref name="heard"/> gets the typer's TYPING once, and nothing else; the others get nothing.</summary>
    private static async Task AssertHeardOnlyByAsync(long chatId, long typerId, WsClient[] heard, WsClient[] notHeard)
    {
        foreach (var ws in heard)
        {
            await ExpectTypingAsync(ws, chatId, typerId);
            await ws.ExpectNothingPendingAsync();
        }
        foreach (var ws in notHeard)
        {
            await ws.ExpectNothingPendingAsync();
        }
    }

    private static async Task ExpectTypingAsync(WsClient ws, long chatId, long userId)
    {
        var frame = await ws.ExpectAsync("TYPING");
        Assert.Equal(chatId, frame.GetProperty("chat_id").GetInt64());
        Assert.Equal(userId, frame.GetProperty("user_id").GetInt64());
        Assert.Equal(["command", "chat_id", "user_id"], frame.EnumerateObject().Select(p => p.Name));
    }
}
