using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

public sealed class TwoReplicaTests(TwoReplicas replicas) : IClassFixture<TwoReplicas>
{
    private readonly WinDiApp a = replicas.A;
    private readonly WinDiApp b = replicas.B;

    [Fact]
    public async Task AMessageSentOnOneReplicaReachesEveryConnectionOnBothExactlyOnce()
    {
        var ann = await a.RegisterAsync();
        var bob = (await a.RegisterAsync()).On(b);
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annOnA = await ann.ConnectAsync();
        await using var annOnB = await ann.On(b).ConnectAsync();
        await using var bobOnB = await bob.ConnectAsync();

        await annOnA.SendMessageAsync(chatId, "across replicas", "cross-1");

        foreach (var ws in new[] { annOnA, annOnB, bobOnB })
        {
            var frame = await ws.ExpectAsync("NEW_MESSAGE");
            Assert.Equal("across replicas", frame.GetProperty("text").GetString());
            await ws.ExpectNothingPendingAsync();
        }
    }

    [Fact]
    public async Task AStoredMessageReachesTheOtherReplicaEvenWhenTheSendersSocketDropsRightAfterSending()
    {
        var ann = await a.RegisterAsync();
        var bob = (await a.RegisterAsync()).On(b);
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var bobOnB = await bob.ConnectAsync();
        var annOnA = await ann.ConnectAsync();

        await using (await a.Postgres.HoldMessageOrderLockAsync())
        {
            await annOnA.SendMessageAsync(chatId, "sent on A, then gone");
            await Task.Delay(300); // the send is in A's writer, waiting on the lock
            await annOnA.DisposeAsync();
        }

        var received = await bobOnB.ExpectAsync("NEW_MESSAGE");
        Assert.Equal("sent on A, then gone", received.GetProperty("text").GetString());
    }

    [Fact]
    public async Task AReadReceiptCrossesReplicas()
    {
        var ann = await a.RegisterAsync();
        var bob = (await a.RegisterAsync()).On(b);
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annOnA = await ann.ConnectAsync();
        await using var bobOnB = await bob.ConnectAsync();
        await using var bobsOtherDeviceOnA = await bob.On(a).ConnectAsync();
        await annOnA.SendMessageAsync(chatId, "read me from B");
        var message = await bobOnB.ExpectAsync("NEW_MESSAGE");
        await annOnA.ExpectAsync("NEW_MESSAGE");
        await bobsOtherDeviceOnA.ExpectAsync("NEW_MESSAGE");

        await bobOnB.SendAsync("READ_MESSAGE", new { id = message.Id() });

        var receipt = await annOnA.ExpectAsync("READ_MESSAGE");
        Assert.Equal(message.Id(), receipt.Id());
        Assert.Equal(bob.Id, receipt.GetProperty("reader_id").GetInt64());
        Assert.True(receipt.GetProperty("is_read").GetBoolean());
        // Bob's other device, on the other replica, clears its unread count too.
        Assert.Equal(message.Id(), (await bobsOtherDeviceOnA.ExpectAsync("READ_MESSAGE")).Id());
    }

    [Fact]
    public async Task SomeoneWhoLeftAGroupOnOneReplicaStopsReceivingItOnTheOther()
    {
        var ann = await a.RegisterAsync();
        var cat = await a.RegisterAsync();
        var group = await ann.CreateGroupAsync("Cross exit", cat);
        await using var catOnB = await cat.On(b).ConnectAsync();
        await using var annOnA = await ann.ConnectAsync();
        await annOnA.SendMessageAsync(group, "still here?");
        await catOnB.ExpectAsync("NEW_MESSAGE");

        Assert.Equal(HttpStatusCode.OK, (await cat.Http.DeleteAsync($"/chats/{group}/exit")).StatusCode);
        await annOnA.SendMessageAsync(group, "gone");

        await annOnA.ExpectAsync("NEW_MESSAGE");
        await annOnA.ExpectAsync("NEW_MESSAGE");
        await catOnB.ExpectNothingPendingAsync();
    }

    [Fact]
    public async Task SyncOnOneReplicaReturnsWhatWasSentThroughTheOther()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var sent = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            sent.Add((await ann.SendAsync(chatId, $"offline {i}")).Id());
        }

        await using var bobOnB = await bob.On(b).ConnectAsync();
        var (messages, done) = await bobOnB.SyncAsync(sent[0] - 1);

        // SYNC's answer is contiguous and ends with SYNC_DONE; a relayed live copy of the last send may
        // still reach the new connection just before it, which clients recognise by id.
        var ids = messages.Select(m => m.Id()).ToList();
        Assert.Equal(sent, ids.TakeLast(sent.Count));
        Assert.All(ids.SkipLast(sent.Count), id => Assert.Contains(id, sent));
        Assert.Equal(sent[^1], done.GetProperty("last_id").GetInt64());
    }

    [Fact]
    public async Task ParallelDuplicateSendsSplitOverBothReplicasStoreOneMessage()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var bobOnA = await bob.ConnectAsync();
        var senders = new List<WsClient>();
        for (var i = 0; i < 6; i++)
        {
            senders.Add(await ann.On(i % 2 == 0 ? a : b).ConnectAsync());
        }

        await ann.AssertParallelRepeatsStoreOneAsync(chatId, senders, sendsEach: 4, recipient: bobOnA);
    }

    [Fact]
    public async Task ABurstOfMessagesArrivesInOrderOnBothReplicas()
    {
        var ann = await a.RegisterAsync();
        var bob = await a.RegisterAsync();
        var cat = await a.RegisterAsync();
        var group = await ann.CreateGroupAsync("Ordered", bob, cat);
        await using var bobOnB = await bob.On(b).ConnectAsync();
        await using var catOnA = await cat.ConnectAsync();
        await using var annOnA = await ann.ConnectAsync();

        for (var i = 0; i < 100; i++)
        {
            await annOnA.SendMessageAsync(group, $"#{i}");
        }

        foreach (var ws in new[] { bobOnB, catOnA, annOnA })
        {
            var texts = new List<string>();
            for (var i = 0; i < 100; i++)
            {
                texts.Add((await ws.ExpectAsync("NEW_MESSAGE")).GetProperty("text").GetString()!);
            }
            Assert.Equal(Enumerable.Range(0, 100).Select(i => $"#{i}"), texts);
        }
    }

    [Fact]
    public async Task ATokenFromOneReplicaIsValidOnTheOther()
    {
        var ann = await a.RegisterAsync();
        var me = await ann.On(b).GetJsonAsync("/users/me");
        Assert.Equal(ann.Id, me.Id());
    }

    [Fact]
    public async Task AMalformedEnvelopeOnTheChannelIsLoggedAndDroppedAndDeliveryGoesOn()
    {
        var ann = await a.RegisterAsync();
        var bob = (await a.RegisterAsync()).On(b);
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annOnA = await ann.ConnectAsync();
        await using var bobOnB = await bob.ConnectAsync();
        var channel = b.Services.GetRequiredService<IConnectionMultiplexer>().GetSubscriber();

        // Shorter than the header, and a header whose event count runs past the end.
        var overlong = new byte[64];
        overlong.AsSpan().Fill(0x7F);
        foreach (var junk in new[] { Array.Empty<byte>(), [1, 2, 3], overlong })
        {
            await channel.PublishAsync(RedisChannel.Literal(RedisRelay.ChannelName), junk);
        }
        await annOnA.SendMessageAsync(chatId, "after the junk");

        Assert.Equal("after the junk", (await bobOnB.ExpectAsync("NEW_MESSAGE")).GetProperty("text").GetString());
        Assert.True(b.Logs.Count(line => line.Contains("Dropped a relay envelope", StringComparison.Ordinal)) >= 3);
    }

    /// <summary>
    /// A process that can reach Redis, but knows neither Relay__Secret nor Jwt__Secret, publishes a
    /// well-formed envelope with redis-cli: nobody receives it. The same envelope with the replicas' key is
    /// delivered, so the test would see an injected frame.
    /// </summary>
    [Fact]
    public async Task AForgedEnvelopePublishedWithRedisCliReachesNobody()
    {
        var bob = (await a.RegisterAsync()).On(b);
        await using var bobOnB = await bob.ConnectAsync();
        var jwt = new WinDi.Api.Auth.JwtOptions { Secret = WinDiApp.JwtSecret };
        RealtimeEvent Fake(string text) => new([bob.Id], System.Text.Encoding.UTF8.GetBytes(
            $$"""{"command":"NEW_MESSAGE","id":1,"chat_id":1,"sender_id":1,"text":"{{text}}","client_message_id":"x","timestamp":0,"is_read":false}"""));
        var forged = RelayEnvelope.Encode(new RelayKey(new RelayOptions { Secret = "guessed" }, jwt), Guid.NewGuid(), default, [Fake("forged")]);
        var genuine = RelayEnvelope.Encode(new RelayKey(new RelayOptions(), jwt), Guid.NewGuid(), default, [Fake("genuine")]);

        await RedisCliPublishAsync(forged);
        await RedisCliPublishAsync(genuine);

        Assert.Equal("genuine", (await bobOnB.ExpectAsync("NEW_MESSAGE")).GetProperty("text").GetString());
        await bobOnB.ExpectNothingPendingAsync();
        Assert.Contains(b.Logs, line => line.Contains("failed authentication", StringComparison.Ordinal));
    }

    private async Task RedisCliPublishAsync(byte[] envelope)
    {
        var endpoint = a.Services.GetRequiredService<IConnectionMultiplexer>().GetEndPoints().Single() as System.Net.IPEndPoint
            ?? throw new InvalidOperationException("The test Redis has no IP endpoint.");
        var start = new System.Diagnostics.ProcessStartInfo("redis-cli", ["-h", endpoint.Address.ToString(), "-p", endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-x", "PUBLISH", RedisRelay.ChannelName])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var cli = System.Diagnostics.Process.Start(start)!;
        await cli.StandardInput.BaseStream.WriteAsync(envelope);
        cli.StandardInput.Close();
        var output = await cli.StandardOutput.ReadToEndAsync();
        await cli.WaitForExitAsync();
        Assert.True(cli.ExitCode == 0 && output.Trim() != "0", $"redis-cli PUBLISH: exit {cli.ExitCode}, '{output.Trim()}' subscribers, {await cli.StandardError.ReadToEndAsync()}");
    }
}
