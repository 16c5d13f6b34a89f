using System.Net.WebSockets;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using WinDi.Api.Auth;
using WinDi.Api.Data;
using WinDi.Api.Messages;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

public sealed class WebSocketTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task APathTokenAndAQueryTokenBothOpenAConnection()
    {
        var ann = await app.RegisterAsync();
        await using var byPath = await WsClient.ConnectAsync(app, ann.Token);
        await using var byQuery = await WsClient.ConnectAsync(app, ann.Token, viaQuery: true);

        await byPath.SendAsync("PING");
        await byQuery.SendAsync("PING");

        await byPath.ExpectAsync("PONG");
        await byQuery.ExpectAsync("PONG");
    }

    [Theory]
    [InlineData("/ws/not-a-token")]
    [InlineData("/ws?access_token=not-a-token")]
    [InlineData("/ws")]
    public async Task AnInvalidTokenIsRefusedWith401BeforeTheUpgrade(string path)
    {
        var error = await Assert.ThrowsAsync<WebSocketException>(() => WsClient.ConnectAsync(app.WebSocketUri(path)));
        Assert.Contains("401", error.Message);
    }

    [Fact]
    public async Task AnExpiredTokenIsRefused()
    {
        var ann = await app.RegisterAsync();
        var expired = Jwt.Sign(ann.Id, DateTime.UtcNow.AddMinutes(-5), WinDiApp.JwtSecret);
        var error = await Assert.ThrowsAsync<WebSocketException>(() => WsClient.ConnectAsync(app, expired));
        Assert.Contains("401", error.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ACorrectlySignedTokenForAUserWhoDoesNotExistIsRefusedWith401BeforeTheUpgrade(bool viaQuery)
    {
        var nobody = Jwt.Sign(long.MaxValue - Random.Shared.Next(1_000_000), DateTime.UtcNow.AddMinutes(10), WinDiApp.JwtSecret);

        var error = await Assert.ThrowsAsync<WebSocketException>(() => WsClient.ConnectAsync(app, nobody, viaQuery));

        Assert.Contains("401", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AConnectionIsClosedWith1008WhenItsTokenExpires()
    {
        var ann = await app.RegisterAsync();
        await using var ws = await WsClient.ConnectAsync(app, Jwt.Sign(ann.Id, DateTime.UtcNow.AddSeconds(2), WinDiApp.JwtSecret));

        await ws.Closed.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, ws.CloseStatus);
    }

    /// <summary>The upgrade request's principal lives as long as the socket, so it keeps only what the connection reads.</summary>
    [Fact]
    public void AConnectionKeepsOnlyTheUserSessionAndExpiryClaimsOfItsToken()
    {
        var validated = new ClaimsPrincipal(new ClaimsIdentity(
            [
                new Claim("sub", "7"), new Claim("sid", Guid.NewGuid().ToString()), new Claim("exp", "1796169676"),
                new Claim("name", "Ann"), new Claim("email", "ann@example.com"), new Claim("iss", "windi"), new Claim("aud", "windi"),
            ], "AuthenticationTypes.Federation"));

        var kept = RealtimeApi.ConnectionPrincipal(validated);

        Assert.Equal(["sub", "sid", "exp"], kept.Claims.Select(claim => claim.Type));
        Assert.Equal(validated.Claims.Take(3).Select(claim => claim.Value), kept.Claims.Select(claim => claim.Value));
        Assert.True(kept.Identity?.IsAuthenticated);
        Assert.Equal(CurrentUser.From(validated), CurrentUser.From(kept));
    }

    [Theory]
    [InlineData("/ws/header.payload.signature", "")]
    [InlineData("/ws", "?access_token=header.payload.signature")]
    public void AnOpenSocketsRequestKeepsNoCopyOfItsToken(string path, string query)
    {
        const string token = "header.payload.signature";
        var http = new DefaultHttpContext();
        var request = http.Features.Get<IHttpRequestFeature>()!;
        (request.Path, request.QueryString, request.RawTarget) = (path, query, path + query);
        http.Request.RouteValues[RealtimeApi.TokenRouteValue] = query.Length == 0 ? token : null;
        Assert.Equal(token, http.Request.RouteValues[RealtimeApi.TokenRouteValue] as string ?? http.Request.Query[RealtimeApi.TokenQueryParameter]);

        RealtimeApi.ForgetToken(http);

        Assert.Equal(RealtimeApi.Path, http.Request.Path);
        Assert.Equal(RealtimeApi.Path, request.RawTarget);
        Assert.Equal("", request.QueryString);
        Assert.Empty(http.Request.Query);
        Assert.DoesNotContain(RealtimeApi.TokenRouteValue, http.Request.RouteValues.Keys);
    }

    [Fact]
    public async Task AMessageReachesEveryConnectionOfEveryMemberAndNoOneElse()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var outsider = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annPhone = await ann.ConnectAsync();
        await using var annLaptop = await ann.ConnectAsync();
        await using var bobPhone = await bob.ConnectAsync();
        await using var outsiderWs = await outsider.ConnectAsync();

        await annPhone.SendMessageAsync(chatId, "hello bob", "hello-1");

        foreach (var ws in new[] { annPhone, annLaptop, bobPhone })
        {
            var frame = await ws.ExpectAsync("NEW_MESSAGE");
            Assert.Equal(chatId, frame.GetProperty("chat_id").GetInt64());
            Assert.Equal(ann.Id, frame.GetProperty("sender_id").GetInt64());
            Assert.Equal("hello bob", frame.GetProperty("text").GetString());
            Assert.Equal("hello-1", frame.GetProperty("client_message_id").GetString());
            Assert.False(frame.GetProperty("is_read").GetBoolean());
            Assert.True(frame.GetProperty("id").GetInt64() > 0);
            Assert.True(frame.GetProperty("timestamp").GetInt64() > 1_700_000_000);
        }
        await outsiderWs.ExpectNothingPendingAsync();
        var history = await bob.GetJsonAsync($"/history/{chatId}");
        Assert.Equal("hello bob", Assert.Single(history.EnumerateArray()).GetProperty("text").GetString());
    }

    [Fact]
    public async Task ANewMessageSaysReadAsItsHistoryDoesWhenNobodyElseIsLeftToReadIt()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var alone = await ann.CreateGroupAsync("Alone", bob);
        var withBob = await ann.CreateGroupAsync("With Bob", bob);
        await bob.Http.DeleteAsync($"/chats/{alone}/exit");
        await using var annWs = await ann.ConnectAsync();

        await annWs.SendMessageAsync(alone, "to nobody", "alone-1");
        await annWs.SendMessageAsync(withBob, "to bob", "with-bob-1");

        Assert.True((await annWs.ExpectAsync("NEW_MESSAGE")).GetProperty("is_read").GetBoolean());
        Assert.False((await annWs.ExpectAsync("NEW_MESSAGE")).GetProperty("is_read").GetBoolean());
        Assert.True(Assert.Single((await ann.GetJsonAsync($"/history/{alone}")).EnumerateArray()).GetProperty("is_read").GetBoolean());
        Assert.False(Assert.Single((await ann.GetJsonAsync($"/history/{withBob}")).EnumerateArray()).GetProperty("is_read").GetBoolean());
    }

    [Fact]
    public async Task SendingToAChatYouAreNotInOrThatDoesNotExistIsRefusedAndStoresNothing()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var outsider = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var ws = await outsider.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();

        await ws.SendMessageAsync(chatId, "let me in", "intrusion");
        var notMember = await ws.ExpectErrorAsync("not_a_member");
        await ws.SendMessageAsync(long.MaxValue, "anyone?", "nowhere");
        var notFound = await ws.ExpectErrorAsync("chat_not_found");

        Assert.Equal("intrusion", notMember.GetProperty("client_message_id").GetString());
        Assert.Equal("nowhere", notFound.GetProperty("client_message_id").GetString());
        await bobWs.ExpectNothingPendingAsync();
        Assert.Equal(0L, await app.Postgres.ScalarAsync<long>("SELECT count(*) FROM messages WHERE sender_id = $1", outsider.Id));
    }

    [Theory]
    [InlineData("this is not json", "invalid_json")]
    [InlineData("[1, 2, 3]", "invalid_json")]
    [InlineData("{\"command\": \"DANCE\"}", "unknown_command")]
    [InlineData("{\"payload\": {}}", "unknown_command")]
    [InlineData("{\"command\": \"SEND_MESSAGE\"}", "validation_failed")]
    [InlineData("{\"command\": \"SEND_MESSAGE\", \"payload\": {\"chat_id\": \"one\", \"text\": \"x\", \"client_message_id\": \"c\"}}", "validation_failed")]
    [InlineData("{\"command\": \"SEND_MESSAGE\", \"payload\": {\"chat_id\": 1, \"text\": \"\", \"client_message_id\": \"c\"}}", "validation_failed")]
    [InlineData("{\"command\": \"SEND_MESSAGE\", \"payload\": {\"chat_id\": 1, \"text\": \"   \", \"client_message_id\": \"c\"}}", "validation_failed")]
    [InlineData("{\"command\": \"SEND_MESSAGE\", \"payload\": {\"chat_id\": 1, \"text\": \"hi\"}}", "validation_failed")]
    [InlineData("{\"command\": \"READ_MESSAGE\", \"payload\": {\"id\": \"x\"}}", "validation_failed")]
    [InlineData("{\"command\": \"SYNC\", \"payload\": {\"after_id\": -1}}", "validation_failed")]
    [InlineData("{\"command\": \"SYNC\", \"payload\": {\"after_id\": 0, \"limit\": 0}}", "validation_failed")]
    [InlineData("", "invalid_json")]
    [InlineData("{\"command\": \"\\ud800PING\"}", "validation_failed")]
    [InlineData("{\"command\": \"PING\", \"\\udfff\": 1}", "validation_failed")]
    [InlineData("{\"command\": \"SEND_MESSAGE\", \"payload\": {\"chat_id\": 1, \"text\": \"\\ud800\", \"client_message_id\": \"c\"}}", "validation_failed")]
    [InlineData("{\"command\": \"SEND_MESSAGE\", \"payload\": {\"chat_id\": 1, \"text\": \"hi\", \"client_message_id\": \"\\ud800\"}}", "validation_failed")]
    [InlineData("{\"command\": \"SEND_MESSAGE\", \"payload\": {\"chat_id\": 1, \"text\": \"a\\u0000b\", \"client_message_id\": \"c\"}}", "validation_failed")]
    [InlineData("{\"command\": \"SEND_MESSAGE\", \"payload\": {\"chat_id\": 1, \"text\": \"hi\", \"client_message_id\": \"c\\u0000\"}}", "validation_failed")]
    [InlineData("{\"command\": \"READ_MESSAGE\", \"payload\": {\"id\": 1, \"note\": [\"\\ud800\"]}}", "validation_failed")]
    [InlineData("{\"command\": \"SYNC\", \"payload\": {\"after_id\": 0, \"cursor\": \"\\u0000\"}}", "validation_failed")]
    public async Task ABadFrameGetsAnErrorAndTheConnectionStaysUsable(string frame, string code)
    {
        var ann = await app.RegisterAsync();
        await using var ws = await ann.ConnectAsync();

        await ws.SendRawAsync(frame);
        await ws.ExpectErrorAsync(code);

        await ws.SendAsync("PING");
        await ws.ExpectAsync("PONG");
    }

    [Fact]
    public async Task TextAndClientMessageIdLengthsAreEnforced()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var ws = await ann.ConnectAsync();

        await ws.SendMessageAsync(chatId, new string('x', 501), "too-long");
        Assert.Equal("too-long", (await ws.ExpectErrorAsync("validation_failed")).GetProperty("client_message_id").GetString());
        await ws.SendMessageAsync(chatId, "hi", new string('k', 101));
        await ws.ExpectErrorAsync("validation_failed");
        await ws.SendMessageAsync(chatId, "hi", "");
        await ws.ExpectErrorAsync("validation_failed");

        await ws.SendMessageAsync(chatId, new string('x', 500), new string('k', 100));
        Assert.Equal(500, (await ws.ExpectAsync("NEW_MESSAGE")).GetProperty("text").GetString()!.Length);
    }

    [Fact]
    public async Task ARepeatedClientMessageIdReturnsTheOriginalToTheSenderOnly()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annWs = await ann.ConnectAsync();
        await using var annOther = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();
        await annWs.SendMessageAsync(chatId, "original", "same-key");
        var original = await annWs.ExpectAsync("NEW_MESSAGE");
        await annOther.ExpectAsync("NEW_MESSAGE");
        await bobWs.ExpectAsync("NEW_MESSAGE");

        await annWs.SendMessageAsync(chatId, "edited retry", "same-key");

        var echo = await annWs.ExpectAsync("NEW_MESSAGE");
        Assert.Equal(original.Id(), echo.Id());
        Assert.Equal("original", echo.GetProperty("text").GetString());
        await bobWs.ExpectNothingPendingAsync();
        await annOther.ExpectNothingPendingAsync();
    }

    [Fact]
    public async Task TwentyFiveParallelDuplicateSendsFromSeveralConnectionsStoreOneMessage()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var bobWs = await bob.ConnectAsync();
        var connections = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => ann.ConnectAsync()));

        await ann.AssertParallelRepeatsStoreOneAsync(chatId, connections, sendsEach: 5, recipient: bobWs);
    }

    /// <summary>
    /// The sender's socket goes away (a closed laptop, a dropped network) while the database is slow: the
    /// message is still stored, and every other member still gets it live.
    /// </summary>
    [Fact]
    public async Task AStoredMessageReachesTheOthersEvenWhenTheSendersSocketDropsRightAfterSending()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var bobWs = await bob.ConnectAsync();
        var annWs = await ann.ConnectAsync();

        await using (await app.Postgres.HoldMessageOrderLockAsync())
        {
            await annWs.SendMessageAsync(chatId, "sent, then gone");
            await Task.Delay(300); // the send is in the writer, waiting on the lock
            await annWs.DisposeAsync();
        }

        var received = await bobWs.ExpectAsync("NEW_MESSAGE");
        Assert.Equal("sent, then gone", received.GetProperty("text").GetString());
        Assert.Equal(ann.Id, received.GetProperty("sender_id").GetInt64());
    }

    [Fact]
    public async Task ReadingAMessageTellsTheSenderAndTheMarkerNeverMovesBack()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annWs = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();
        await annWs.SendMessageAsync(chatId, "first");
        var first = await annWs.ExpectAsync("NEW_MESSAGE");
        await annWs.SendMessageAsync(chatId, "second");
        var second = await annWs.ExpectAsync("NEW_MESSAGE");
        await bobWs.ExpectAsync("NEW_MESSAGE");
        await bobWs.ExpectAsync("NEW_MESSAGE");

        await bobWs.SendAsync("READ_MESSAGE", new { id = second.Id() });

        var receipt = await annWs.ExpectAsync("READ_MESSAGE");
        Assert.Equal(second.Id(), receipt.Id());
        Assert.Equal(chatId, receipt.GetProperty("chat_id").GetInt64());
        Assert.Equal(bob.Id, receipt.GetProperty("reader_id").GetInt64());
        Assert.True(receipt.GetProperty("is_read").GetBoolean());
        // The reader's own connections hear of it too (DESIGN §5), so every device clears its unread count.
        Assert.Equal(second.Id(), (await bobWs.ExpectAsync("READ_MESSAGE")).Id());
        await bobWs.ExpectNothingPendingAsync();

        // An older message: the marker stays where it is, so nobody is told anything.
        await bobWs.SendAsync("READ_MESSAGE", new { id = first.Id() });
        await bobWs.ExpectNothingPendingAsync();
        await annWs.ExpectNothingPendingAsync();
        var history = await ann.GetJsonAsync($"/history/{chatId}");
        Assert.All(history.EnumerateArray(), m => Assert.True(m.GetProperty("is_read").GetBoolean()));
        Assert.Equal(second.Id(), await app.Postgres.ScalarAsync<long>(
            "SELECT last_read_message_id FROM chat_members WHERE chat_id = $1 AND user_id = $2", chatId, bob.Id));
        Assert.Equal(0, (await bob.GetJsonAsync("/chats")).EnumerateArray().Single(c => c.Id() == chatId).GetProperty("unread_count").GetInt32());
    }

    [Fact]
    public async Task AGroupReceiptSaysReadOnlyOnceEveryOtherMemberHasRead()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var cat = await app.RegisterAsync();
        var group = await ann.CreateGroupAsync("Receipts", bob, cat);
        await using var annWs = await ann.ConnectAsync();
        await annWs.SendMessageAsync(group, "group news");
        var message = await annWs.ExpectAsync("NEW_MESSAGE");
        await using var bobWs = await bob.ConnectAsync();
        await using var catWs = await cat.ConnectAsync();

        await bobWs.SendAsync("READ_MESSAGE", new { id = message.Id() });
        Assert.False((await annWs.ExpectAsync("READ_MESSAGE")).GetProperty("is_read").GetBoolean());
        await catWs.SendAsync("READ_MESSAGE", new { id = message.Id() });
        var last = await annWs.ExpectAsync("READ_MESSAGE");

        Assert.Equal(cat.Id, last.GetProperty("reader_id").GetInt64());
        Assert.True(last.GetProperty("is_read").GetBoolean());
    }

    /// <summary>
    /// The last two readers of a group message, at the same moment: each statement alone would see the other's
    /// old marker and say "not read", forever. Repeated, because one try may not overlap.
    /// </summary>
    [Fact]
    public async Task WhenTheLastTwoReadersReadAtOnceTheLastReceiptSaysRead()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var cat = await app.RegisterAsync();
        var group = await ann.CreateGroupAsync("Receipt race", bob, cat);
        await using var annWs = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();
        await using var catWs = await cat.ConnectAsync();

        for (var round = 0; round < 25; round++)
        {
            await annWs.SendMessageAsync(group, $"news {round}");
            var message = await annWs.ExpectAsync("NEW_MESSAGE");
            await bobWs.ExpectAsync("NEW_MESSAGE");
            await catWs.ExpectAsync("NEW_MESSAGE");

            await Task.WhenAll(bobWs.SendAsync("READ_MESSAGE", new { id = message.Id() }), catWs.SendAsync("READ_MESSAGE", new { id = message.Id() }));

            var receipts = new[] { await annWs.ExpectAsync("READ_MESSAGE"), await annWs.ExpectAsync("READ_MESSAGE") };
            Assert.True(receipts.Any(r => r.GetProperty("is_read").GetBoolean()), $"Round {round}: both receipts say unread: {receipts[0]} {receipts[1]}");
            Assert.True((await ann.GetJsonAsync($"/history/{group}?after_id={message.Id() - 1}&limit=1"))[0].GetProperty("is_read").GetBoolean());
            await bobWs.ExpectAsync("READ_MESSAGE");
            await catWs.ExpectAsync("READ_MESSAGE");
        }
    }

    [Fact]
    public async Task EveryDeviceOfTheReaderLearnsOfTheRead()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var message = await ann.SendAsync(chatId, "read me");
        await using var bobPhone = await bob.ConnectAsync();
        await using var bobLaptop = await bob.ConnectAsync();

        await bobPhone.SendAsync("READ_MESSAGE", new { id = message.Id() });

        var seen = await bobLaptop.ExpectAsync("READ_MESSAGE");
        Assert.Equal(message.Id(), seen.Id());
        Assert.Equal(bob.Id, seen.GetProperty("reader_id").GetInt64());
        Assert.Equal(chatId, seen.GetProperty("chat_id").GetInt64());
        Assert.Equal(0, (await bob.GetJsonAsync("/chats")).EnumerateArray().Single(c => c.Id() == chatId).GetProperty("unread_count").GetInt32());
    }

    [Fact]
    public async Task ReadingIsRefusedForUnknownMessagesOtherPeoplesChatsAndYourOwnMessages()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var outsider = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var message = await ann.SendAsync(chatId, "private");
        await using var outsiderWs = await outsider.ConnectAsync();
        await using var annWs = await ann.ConnectAsync();

        await outsiderWs.SendAsync("READ_MESSAGE", new { id = long.MaxValue });
        Assert.Equal(long.MaxValue, (await outsiderWs.ExpectErrorAsync("message_not_found")).Id());
        await outsiderWs.SendAsync("READ_MESSAGE", new { id = message.Id() });
        Assert.Equal(message.Id(), (await outsiderWs.ExpectErrorAsync("not_a_member")).Id());
        await annWs.SendAsync("READ_MESSAGE", new { id = message.Id() });
        await annWs.ExpectErrorAsync("validation_failed");

        Assert.False((await bob.GetJsonAsync($"/history/{chatId}"))[0].GetProperty("is_read").GetBoolean());
    }

    [Fact]
    public async Task SyncAfterADisconnectReturnsExactlyWhatWasMissed()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var cat = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var otherChat = await ann.StartPrivateChatAsync(cat);
        long lastSeen;
        await using (var bobWs = await bob.ConnectAsync())
        {
            await ann.SendAsync(chatId, "while online");
            lastSeen = (await bobWs.ExpectAsync("NEW_MESSAGE")).Id();
        }

        var missed = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            missed.Add((await ann.SendAsync(chatId, $"while offline {i}")).Id());
            await ann.SendAsync(otherChat, "not for bob");
        }
        await using var back = await bob.ConnectAsync();
        var (messages, done) = await back.SyncAsync(lastSeen);

        Assert.Equal(missed, messages.Select(m => m.Id()));
        Assert.All(messages, m => Assert.Equal(chatId, m.GetProperty("chat_id").GetInt64()));
        Assert.Equal(missed[^1], done.GetProperty("last_id").GetInt64());
        Assert.False(done.GetProperty("has_more").GetBoolean());
    }

    [Fact]
    public async Task SyncPagesWithHasMoreAndLastId()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await ann.SendAsync(chatId, $"m{i}")).Id());
        }
        await using var ws = await bob.ConnectAsync();

        var (first, firstDone) = await ws.SyncAsync(ids[0] - 1, limit: 3);
        var (rest, restDone) = await ws.SyncAsync(firstDone.GetProperty("last_id").GetInt64(), limit: 3);
        var (none, noneDone) = await ws.SyncAsync(restDone.GetProperty("last_id").GetInt64());

        Assert.Equal(ids[..3], first.Select(m => m.Id()));
        Assert.True(firstDone.GetProperty("has_more").GetBoolean());
        Assert.Equal(ids[3..], rest.Select(m => m.Id()));
        Assert.False(restDone.GetProperty("has_more").GetBoolean());
        Assert.Empty(none);
        Assert.Equal(ids[^1], noneDone.GetProperty("last_id").GetInt64());
    }

    [Fact]
    public async Task SyncWithoutALimitReturns500AndSaysThereIsMore()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annWs = await ann.ConnectAsync();
        var first = 0L;
        for (var i = 0; i < 501; i++)
        {
            await annWs.SendMessageAsync(chatId, $"m{i}");
            var id = (await annWs.ExpectAsync("NEW_MESSAGE")).Id();
            first = i == 0 ? id : first;
        }
        await using var bobWs = await bob.ConnectAsync();

        var (page, done) = await bobWs.SyncAsync(first - 1);
        var (rest, restDone) = await bobWs.SyncAsync(done.GetProperty("last_id").GetInt64());

        Assert.Equal(500, page.Count);
        Assert.True(done.GetProperty("has_more").GetBoolean());
        Assert.Equal(page[^1].Id(), done.GetProperty("last_id").GetInt64());
        Assert.Equal("m500", Assert.Single(rest).GetProperty("text").GetString());
        Assert.False(restDone.GetProperty("has_more").GetBoolean());
    }

    [Fact]
    public async Task SyncNeverSkipsAMessageWhileManyAreBeingSentAtOnce()
    {
        // Two replicas on one database, so that commits of two writers race (each replica's writer
        // commits its own batches one at a time).
        await using var second = new WinDiApp(app.Postgres);
        var ann = await app.RegisterAsync();
        var group = await ann.CreateGroupAsync("Busy");
        var senders = new List<TestUser>();
        const int senderCount = 8, perSender = 40;
        for (var i = 0; i < senderCount; i++)
        {
            var sender = await app.RegisterAsync();
            await ann.Http.PostAsync($"/chats/{group}/add-user?user_id={sender.Id}", null);
            senders.Add(sender);
        }
        var synced = new List<long>();
        var sending = Task.WhenAll(senders.Select(async (sender, index) =>
        {
            await using var ws = await (index % 2 == 0 ? sender : sender.On(second)).ConnectAsync();
            for (var i = 0; i < perSender; i++)
            {
                await ws.SendMessageAsync(group, $"burst {i}");
            }
            // Drain until this sender has seen the echoes of all its messages.
            var own = 0;
            while (own < perSender)
            {
                var frame = await ws.ExpectAsync("NEW_MESSAGE");
                if (frame.GetProperty("sender_id").GetInt64() == sender.Id) own++;
            }
        }));

        // A client that keeps catching up from the last id it holds, with SYNC's own query, while sends
        // commit concurrently. (A member's connection would also get the live frames, mixed in.)
        var lastId = 0L;
        async Task CatchUpAsync()
        {
            var dataSource = app.Services.GetRequiredService<Npgsql.NpgsqlDataSource>();
            var (page, _) = await MessageSync.PageAsync(dataSource, ann.Id, lastId, 500, CancellationToken.None);
            synced.AddRange(page.Select(m => m.Id));
            lastId = page.Count > 0 ? page[^1].Id : lastId;
        }
        while (!sending.IsCompleted)
        {
            await CatchUpAsync();
        }
        await sending;
        await CatchUpAsync();

        var stored = await app.Postgres.ScalarAsync<long[]>("SELECT array_agg(id ORDER BY id) FROM messages WHERE chat_id = $1", group);
        Assert.Equal(senderCount * perSender, stored.Length);
        Assert.Equal(stored, synced);
    }

    [Fact]
    public async Task SomeoneWhoLeftAGroupStopsReceivingIt()
    {
        var ann = await app.RegisterAsync();
        var cat = await app.RegisterAsync();
        var group = await ann.CreateGroupAsync("Farewell", cat);
        await using var catWs = await cat.ConnectAsync();
        var before = await ann.SendAsync(group, "before leaving");
        await catWs.ExpectAsync("NEW_MESSAGE");

        await cat.Http.DeleteAsync($"/chats/{group}/exit");
        await ann.SendAsync(group, "after leaving");

        await catWs.ExpectNothingPendingAsync();
        var (missed, _) = await catWs.SyncAsync(before.Id());
        Assert.Empty(missed);
        await catWs.SendMessageAsync(group, "can I still post?");
        await catWs.ExpectErrorAsync("not_a_member");
    }

    [Fact]
    public async Task AFrameLargerThan16KiBClosesTheSocketWith1009()
    {
        var ann = await app.RegisterAsync();
        await using var ws = await ann.ConnectAsync();
        await ws.SendRawAsync($"{{\"command\":\"PING\",\"pad\":\"{new string('x', 16 * 1024 - 30)}\"}}");
        await ws.ExpectAsync("PONG");

        await ws.SendBytesAsync(new byte[16 * 1024 + 1]);

        await ws.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, ws.CloseStatus);
    }

    [Fact]
    public async Task PingIsAnsweredWithPong()
    {
        var ann = await app.RegisterAsync();
        await using var ws = await ann.ConnectAsync();
        await ws.SendAsync("PING");
        var pong = await ws.ExpectAsync("PONG");
        Assert.Single(pong.EnumerateObject());
    }
}
