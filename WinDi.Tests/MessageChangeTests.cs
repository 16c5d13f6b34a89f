namespace WinDi.Tests;

/// <summary>EDIT_MESSAGE, DELETE_MESSAGE and SYNC {after_seq} (DESIGN §7 "Edit and delete") on one replica.</summary>
public sealed class MessageChangeTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task AnEditReachesEveryConnectionOfEveryMemberAndHistoryAndTheChatListShowTheNewText()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var outsider = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annPhone = await ann.ConnectAsync();
        await using var annLaptop = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();
        await using var outsiderWs = await outsider.ConnectAsync();
        var sent = await annPhone.SendAndEchoAsync(chatId, "see you at 5");
        await annLaptop.ExpectAsync("NEW_MESSAGE");
        await bobWs.ExpectAsync("NEW_MESSAGE");
        Assert.Equal(JsonValueKind.Null, sent.GetProperty("edited_at").ValueKind);
        Assert.True(sent.Seq() > 0);

        await annPhone.EditMessageAsync(sent.Id(), "see you at 6");

        var edits = new List<JsonElement>();
        foreach (var ws in new[] { annPhone, annLaptop, bobWs })
        {
            var edit = await ws.ExpectAsync("MESSAGE_EDITED");
            Assert.Equal(["command", "id", "chat_id", "text", "edited_at", "seq"], edit.EnumerateObject().Select(p => p.Name));
            Assert.Equal(sent.Id(), edit.Id());
            Assert.Equal(chatId, edit.GetProperty("chat_id").GetInt64());
            Assert.Equal("see you at 6", edit.GetProperty("text").GetString());
            Assert.InRange(edit.GetProperty("edited_at").GetInt64(), sent.GetProperty("timestamp").GetInt64(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
            Assert.True(edit.Seq() > sent.Seq());
            edits.Add(edit);
        }
        Assert.Single(edits.Select(e => e.ToString()).Distinct());
        await outsiderWs.ExpectNothingPendingAsync();

        var stored = Assert.Single((await bob.GetJsonAsync($"/history/{chatId}")).EnumerateArray());
        Assert.Equal("see you at 6", stored.GetProperty("text").GetString());
        Assert.Equal(edits[0].GetProperty("edited_at").GetInt64(), stored.GetProperty("edited_at").GetInt64());
        Assert.Equal(edits[0].Seq(), stored.Seq());
        Assert.Equal(sent.GetProperty("timestamp").GetInt64(), stored.GetProperty("timestamp").GetInt64());
        var last = (await bob.GetJsonAsync("/chats")).EnumerateArray().Single().GetProperty("last_message");
        Assert.Equal("see you at 6", last.GetProperty("text").GetString());
        Assert.Equal(edits[0].GetProperty("edited_at").GetInt64(), last.GetProperty("edited_at").GetInt64());
    }

    [Fact]
    public async Task EveryHistoryPageShowsEditedTextAndLeavesDeletedMessagesOut()
    {
        var (ann, bob, chatId) = await TwoInAChatAsync();
        await using var ws = await ann.ConnectAsync();
        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await ws.SendAndEchoAsync(chatId, $"m{i}")).Id());
        }
        await ws.EditMessageAsync(ids[1], "m1 edited");
        await ws.ExpectAsync("MESSAGE_EDITED");
        await ws.DeleteMessageAsync(ids[2]);
        await ws.ExpectAsync("MESSAGE_DELETED");

        string[] Texts(JsonElement page) => [.. page.EnumerateArray().Select(m => m.GetProperty("text").GetString()!)];
        Assert.Equal(["m0", "m1 edited", "m3", "m4"], Texts(await bob.GetJsonAsync($"/history/{chatId}")));
        Assert.Equal(["m3", "m4"], Texts(await bob.GetJsonAsync($"/history/{chatId}?limit=2&offset=2")));
        Assert.Equal(["m1 edited", "m3", "m4"], Texts(await bob.GetJsonAsync($"/history/{chatId}?latest=true&limit=3")));
        Assert.Equal(["m0", "m1 edited"], Texts(await bob.GetJsonAsync($"/history/{chatId}?before_id={ids[3]}")));
        Assert.Equal(["m1 edited", "m3"], Texts(await bob.GetJsonAsync($"/history/{chatId}?after_id={ids[0]}&limit=2")));
        var all = (await bob.GetJsonAsync($"/history/{chatId}")).EnumerateArray().ToList();
        Assert.All(all.Where(m => m.Id() != ids[1]), m => Assert.Equal(JsonValueKind.Null, m.GetProperty("edited_at").ValueKind));
        Assert.Equal(JsonValueKind.Number, all.Single(m => m.Id() == ids[1]).GetProperty("edited_at").ValueKind);
    }

    [Fact]
    public async Task ADeleteReachesEveryMemberAndTheMessageLeavesHistoryTheChatListAndTheDatabase()
    {
        var (ann, bob, chatId) = await TwoInAChatAsync();
        await using var annWs = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();
        await using var bobsOtherDevice = await bob.ConnectAsync();
        var first = await annWs.SendAndEchoAsync(chatId, "first", "keep-1");
        var second = await annWs.SendAndEchoAsync(chatId, "the secret plan", "delete-1");
        for (var i = 0; i < 2; i++)
        {
            await bobWs.ExpectAsync("NEW_MESSAGE");
            await bobsOtherDevice.ExpectAsync("NEW_MESSAGE");
        }
        Assert.Equal(2, (await bob.GetJsonAsync("/chats")).EnumerateArray().Single().GetProperty("unread_count").GetInt32());

        await annWs.DeleteMessageAsync(second.Id());

        foreach (var ws in new[] { annWs, bobWs, bobsOtherDevice })
        {
            var deleted = await ws.ExpectAsync("MESSAGE_DELETED");
            Assert.Equal(["command", "id", "chat_id", "seq"], deleted.EnumerateObject().Select(p => p.Name));
            Assert.Equal(second.Id(), deleted.Id());
            Assert.Equal(chatId, deleted.GetProperty("chat_id").GetInt64());
            Assert.True(deleted.Seq() > second.Seq());
        }
        Assert.Equal([first.Id()], (await bob.GetJsonAsync($"/history/{chatId}")).EnumerateArray().Select(m => m.Id()));
        var chat = (await bob.GetJsonAsync("/chats")).EnumerateArray().Single();
        Assert.Equal(first.Id(), chat.GetProperty("last_message").Id());
        Assert.Equal(1, chat.GetProperty("unread_count").GetInt32());
        // The row stays as a tombstone (its seq, its client_message_id); its text is gone.
        Assert.Equal("|delete-1|true", await app.Postgres.ScalarAsync<string>(
            "SELECT text || '|' || client_message_id || '|' || (deleted_at IS NOT NULL) FROM messages WHERE id = $1", second.Id()));
        Assert.Equal(0L, await app.Postgres.ScalarAsync<long>("SELECT count(*) FROM messages WHERE text LIKE '%secret plan%' AND sender_id = $1", ann.Id));

        // Deleting a chat's only message leaves it with no last message.
        await annWs.DeleteMessageAsync(first.Id());
        await annWs.ExpectAsync("MESSAGE_DELETED");
        Assert.Equal(JsonValueKind.Null, (await bob.GetJsonAsync("/chats")).EnumerateArray().Single().GetProperty("last_message").ValueKind);
        Assert.Empty((await bob.GetJsonAsync($"/history/{chatId}")).EnumerateArray());
    }

    [Fact]
    public async Task EditingOrDeletingIsRefusedForOtherPeoplesMessagesNonMembersAndUnknownOrDeletedMessagesAndChangesNothing()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var outsider = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annWs = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();
        await using var outsiderWs = await outsider.ConnectAsync();
        var message = await annWs.SendAndEchoAsync(chatId, "ann's words");
        var gone = await annWs.SendAndEchoAsync(chatId, "soon gone");
        await annWs.DeleteMessageAsync(gone.Id());
        await annWs.ExpectAsync("MESSAGE_DELETED");
        for (var i = 0; i < 3; i++)
        {
            await bobWs.ReceiveAsync();
        }
        const string row = "SELECT text || '|' || seq || '|' || coalesce(edited_at::text, '-') || '|' || coalesce(deleted_at::text, '-') FROM messages WHERE id = $1";
        var (before, goneBefore) = (await app.Postgres.ScalarAsync<string>(row, message.Id()), await app.Postgres.ScalarAsync<string>(row, gone.Id()));

        var (id, goneId) = (message.Id(), gone.Id());
        foreach (var (ws, act, code, echoed) in new (WsClient, Func<WsClient, Task>, string, long)[]
        {
            (bobWs, ws => ws.EditMessageAsync(id, "bob's now"), "forbidden", id),
            (bobWs, ws => ws.DeleteMessageAsync(id), "forbidden", id),
            (outsiderWs, ws => ws.EditMessageAsync(id, "let me in"), "not_a_member", id),
            (outsiderWs, ws => ws.DeleteMessageAsync(id), "not_a_member", id),
            (annWs, ws => ws.EditMessageAsync(long.MaxValue, "nothing there"), "message_not_found", long.MaxValue),
            (annWs, ws => ws.DeleteMessageAsync(long.MaxValue), "message_not_found", long.MaxValue),
            (annWs, ws => ws.EditMessageAsync(goneId, "back from the dead"), "message_not_found", goneId),
            (annWs, ws => ws.DeleteMessageAsync(goneId), "message_not_found", goneId),
            (bobWs, ws => ws.EditMessageAsync(goneId, "bob's now"), "message_not_found", goneId),
            (outsiderWs, ws => ws.DeleteMessageAsync(goneId), "message_not_found", goneId),
            (annWs, ws => ws.EditMessageAsync(id, "   "), "validation_failed", id),
            (annWs, ws => ws.EditMessageAsync(id, new string('x', 501)), "validation_failed", id),
            (annWs, ws => ws.SendAsync("EDIT_MESSAGE", new { id }), "validation_failed", id),
            (annWs, ws => ws.SendAsync("DELETE_MESSAGE", new { id = 0 }), "validation_failed", 0),
            (annWs, ws => ws.SendRawAsync($$$"""{"command": "EDIT_MESSAGE", "payload": {"id": {{{id}}}, "text": "nul \u0000"}}"""), "validation_failed", id),
        })
        {
            await act(ws);
            Assert.Equal(echoed, (await ws.ExpectErrorAsync(code)).GetProperty("id").GetInt64());
        }

        Assert.Equal(before, await app.Postgres.ScalarAsync<string>(row, message.Id()));
        Assert.Equal(goneBefore, await app.Postgres.ScalarAsync<string>(row, gone.Id()));
        foreach (var ws in new[] { annWs, bobWs, outsiderWs })
        {
            await ws.ExpectNothingPendingAsync(TimeSpan.Zero);
        }
    }

    [Fact]
    public async Task ARepeatedSendOfAMessageThatWasDeletedStoresNothingAndAnswersWithItsTombstone()
    {
        var (ann, bob, chatId) = await TwoInAChatAsync();
        await using var phone = await ann.ConnectAsync();
        await using var laptop = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();
        var sent = await phone.SendAndEchoAsync(chatId, "oops", "repeat-me");
        await laptop.ExpectAsync("NEW_MESSAGE");
        await bobWs.ExpectAsync("NEW_MESSAGE");
        await laptop.DeleteMessageAsync(sent.Id());
        var deleted = await laptop.ExpectAsync("MESSAGE_DELETED");
        await phone.ExpectAsync("MESSAGE_DELETED");
        await bobWs.ExpectAsync("MESSAGE_DELETED");

        // The phone never heard its echo, say, and sends again after a reconnect.
        await phone.SendMessageAsync(chatId, "oops", "repeat-me");

        var answer = await phone.ExpectAsync("MESSAGE_DELETED");
        Assert.Equal(sent.Id(), answer.Id());
        Assert.Equal(deleted.Seq(), answer.Seq());
        Assert.Equal("repeat-me", answer.GetProperty("client_message_id").GetString());
        await bobWs.ExpectNothingPendingAsync();
        await laptop.ExpectNothingPendingAsync(TimeSpan.Zero);
        Assert.Equal(1L, await app.Postgres.ScalarAsync<long>("SELECT count(*) FROM messages WHERE sender_id = $1", ann.Id));
    }

    [Fact]
    public async Task ARepeatedSendOfAnEditedMessageAnswersWithItsLatestText()
    {
        var (ann, bob, chatId) = await TwoInAChatAsync();
        await using var ws = await ann.ConnectAsync();
        var sent = await ws.SendAndEchoAsync(chatId, "draft", "edit-then-repeat");
        await ws.EditMessageAsync(sent.Id(), "final");
        var edit = await ws.ExpectAsync("MESSAGE_EDITED");

        var answer = await ws.SendAndEchoAsync(chatId, "draft", "edit-then-repeat");
        Assert.Equal((sent.Id(), "final", edit.Seq()), (answer.Id(), answer.GetProperty("text").GetString(), answer.Seq()));
        Assert.Equal(edit.GetProperty("edited_at").GetInt64(), answer.GetProperty("edited_at").GetInt64());
    }

    [Fact]
    public async Task SyncBySeqReturnsTheLatestStateOfEveryChangeMadeWhileTheClientWasAwayEachOnceInSeqOrder()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var cat = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var notBobs = await ann.StartPrivateChatAsync(cat);
        await using var annWs = await ann.ConnectAsync();
        Task<JsonElement> Send(long chat, string text) => annWs.SendAndEchoAsync(chat, text);
        async Task<JsonElement> Change(JsonElement message, string? text)
        {
            await (text is null ? annWs.DeleteMessageAsync(message.Id()) : annWs.EditMessageAsync(message.Id(), text));
            return await annWs.ExpectAsync(text is null ? "MESSAGE_DELETED" : "MESSAGE_EDITED");
        }
        var (old1, old2, old3) = (await Send(chatId, "old 1"), await Send(chatId, "old 2"), await Send(chatId, "old 3"));
        var notForBob = await Send(notBobs, "not for bob");
        long cursor;
        await using (var bobWs = await bob.ConnectAsync())
        {
            var (seen, done) = await bobWs.SyncChangesAsync(0);
            Assert.Equal([old1.Id(), old2.Id(), old3.Id()], seen.Select(f => f.Id()));
            Assert.All(seen, f => Assert.Equal("NEW_MESSAGE", f.Command()));
            cursor = done.GetProperty("last_seq").GetInt64();
            Assert.Equal(old3.Seq(), cursor);
            Assert.False(done.TryGetProperty("last_id", out _));
        }

        // While Bob is away:
        await Change(old1, "old 1, edited");
        var old1Edit = await Change(old1, "old 1, edited twice");
        var old2Delete = await Change(old2, null);
        var new1 = await Send(chatId, "new 1");
        await Change(new1, "new 1, edited");
        var new1Edit = await Change(new1, "new 1, edited twice");
        var new2 = await Send(chatId, "new 2");
        await Change(new2, "new 2, edited");
        var new2Delete = await Change(new2, null);
        var new3 = await Send(chatId, "new 3");
        await Change(notForBob, "still not for bob");

        await using var back = await bob.ConnectAsync();
        var (changes, syncDone) = await back.SyncChangesAsync(cursor);

        Assert.Equal(
            [("MESSAGE_EDITED", old1.Id(), old1Edit.Seq()), ("MESSAGE_DELETED", old2.Id(), old2Delete.Seq()), ("NEW_MESSAGE", new1.Id(), new1Edit.Seq()),
             ("MESSAGE_DELETED", new2.Id(), new2Delete.Seq()), ("NEW_MESSAGE", new3.Id(), new3.Seq())],
            changes.Select(c => (c.Command(), c.Id(), c.Seq())));
        Assert.Equal(old1Edit.ToString(), changes[0].ToString());
        Assert.Equal(old2Delete.ToString(), changes[1].ToString());
        Assert.Equal("new 1, edited twice", changes[2].GetProperty("text").GetString());
        Assert.Equal(new1Edit.GetProperty("edited_at").GetInt64(), changes[2].GetProperty("edited_at").GetInt64());
        Assert.Equal((ann.Id, new1.GetProperty("client_message_id").GetString(), new1.GetProperty("timestamp").GetInt64()),
            (changes[2].GetProperty("sender_id").GetInt64(), changes[2].GetProperty("client_message_id").GetString(), changes[2].GetProperty("timestamp").GetInt64()));
        Assert.Equal(new2Delete.ToString(), changes[3].ToString());
        Assert.Equal(JsonValueKind.Null, changes[4].GetProperty("edited_at").ValueKind);
        Assert.Equal(new3.Seq(), syncDone.GetProperty("last_seq").GetInt64());
        Assert.False(syncDone.GetProperty("has_more").GetBoolean());

        // Caught up: nothing more, and the cursor stays.
        var (none, noneDone) = await back.SyncChangesAsync(new3.Seq());
        Assert.Empty(none);
        Assert.Equal(new3.Seq(), noneDone.GetProperty("last_seq").GetInt64());
    }

    [Fact]
    public async Task SyncBySeqPagesWithHasMoreAndLastSeq()
    {
        var (ann, bob, chatId) = await TwoInAChatAsync();
        var otherChat = await ann.StartPrivateChatAsync(await app.RegisterAsync());
        await using var annWs = await ann.ConnectAsync();
        var seqs = new List<long>();
        var ids = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            var sent = await annWs.SendAndEchoAsync(i % 2 == 0 ? chatId : otherChat, $"m{i}");
            if (i % 2 == 0)
            {
                ids.Add(sent.Id());
            }
        }
        // Changes in Bob's chat, in seq order: m2 new, m0 edited, m2 edited (so m2 comes once, last).
        await annWs.EditMessageAsync(ids[0], "m0 edited");
        seqs.Add((await annWs.ExpectAsync("MESSAGE_EDITED")).Seq());
        await annWs.EditMessageAsync(ids[1], "m2 edited");
        seqs.Add((await annWs.ExpectAsync("MESSAGE_EDITED")).Seq());
        var m4 = await annWs.SendAndEchoAsync(chatId, "m4");
        seqs.Add(m4.Seq());
        await using var bobWs = await bob.ConnectAsync();

        var (first, firstDone) = await bobWs.SyncChangesAsync(0, limit: 2);
        var (rest, restDone) = await bobWs.SyncChangesAsync(firstDone.GetProperty("last_seq").GetInt64(), limit: 2);

        Assert.Equal([("NEW_MESSAGE", ids[0], seqs[0]), ("NEW_MESSAGE", ids[1], seqs[1])], first.Select(c => (c.Command(), c.Id(), c.Seq())));
        Assert.Equal(["m0 edited", "m2 edited"], first.Select(c => c.GetProperty("text").GetString()));
        Assert.True(firstDone.GetProperty("has_more").GetBoolean());
        Assert.Equal(seqs[1], firstDone.GetProperty("last_seq").GetInt64());
        Assert.Equal([("NEW_MESSAGE", m4.Id(), seqs[2])], rest.Select(c => (c.Command(), c.Id(), c.Seq())));
        Assert.False(restDone.GetProperty("has_more").GetBoolean());
        Assert.Equal(seqs[2], restDone.GetProperty("last_seq").GetInt64());

        // From a cursor between the sends and the edits, the edits are edits.
        var (edits, _) = await bobWs.SyncChangesAsync(seqs[0] - 1, limit: 1);
        Assert.Equal("MESSAGE_EDITED", Assert.Single(edits).Command());
    }

    [Fact]
    public async Task SyncByIdStillWorksWithEditedTextAndWithoutDeletedMessages()
    {
        var (ann, bob, chatId) = await TwoInAChatAsync();
        await using var annWs = await ann.ConnectAsync();
        var ids = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await annWs.SendAndEchoAsync(chatId, $"m{i}")).Id());
        }
        await annWs.EditMessageAsync(ids[0], "m0 edited");
        var edit = await annWs.ExpectAsync("MESSAGE_EDITED");
        await annWs.DeleteMessageAsync(ids[2]);
        await annWs.ExpectAsync("MESSAGE_DELETED");
        await using var bobWs = await bob.ConnectAsync();

        var (messages, done) = await bobWs.SyncAsync(ids[0] - 1);

        Assert.Equal([ids[0], ids[1]], messages.Select(m => m.Id()));
        Assert.Equal("m0 edited", messages[0].GetProperty("text").GetString());
        Assert.Equal(edit.GetProperty("edited_at").GetInt64(), messages[0].GetProperty("edited_at").GetInt64());
        Assert.Equal(edit.Seq(), messages[0].Seq());
        Assert.Equal(ids[1], done.GetProperty("last_id").GetInt64());
        Assert.False(done.TryGetProperty("last_seq", out _));
    }

    [Fact]
    public async Task SyncPagesAcrossManyChatsHoldEveryMessageAndEveryChangeOnceInOrderByIdAndBySeq()
    {
        // Two chats far busier than the rest (each more than a page and more than the keys every chat first gives,
        // MessageSync.FirstKeysSql), 28 with a message or two, all interleaved; some messages edited, some deleted.
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chats = new List<long>();
        for (var i = 0; i < 30; i++)
        {
            chats.Add(await ann.CreateGroupAsync($"many {i}", bob));
        }
        await using var annWs = await ann.ConnectAsync();
        var latest = new Dictionary<long, (string Command, long Seq, string Text)>();
        for (var n = 0; n < 100; n++)
        {
            var chat = n % 3 == 0 ? chats[0] : n % 3 == 1 && n < 70 ? chats[1] : chats[2 + (n % 28)];
            var sent = await annWs.SendAndEchoAsync(chat, $"many {n}");
            latest[sent.Id()] = ("NEW_MESSAGE", sent.Seq(), $"many {n}");
        }
        var ids = latest.Keys.Order().ToList();
        foreach (var id in new[] { ids[0], ids[1], ids[50], ids[98] })
        {
            await annWs.EditMessageAsync(id, $"edited {id}");
            latest[id] = ("NEW_MESSAGE", (await annWs.ExpectAsync("MESSAGE_EDITED")).Seq(), $"edited {id}");
        }
        foreach (var id in new[] { ids[3], ids[1], ids[70], ids[99] })
        {
            await annWs.DeleteMessageAsync(id);
            latest[id] = ("MESSAGE_DELETED", (await annWs.ExpectAsync("MESSAGE_DELETED")).Seq(), "");
        }
        await using var bobWs = await bob.ConnectAsync();

        foreach (var limit in new[] { 1, 7, 20, 500 })
        {
            var byId = new List<JsonElement>();
            var (afterId, hasMore) = (0L, true);
            while (hasMore)
            {
                var (page, done) = await bobWs.SyncAsync(afterId, limit);
                hasMore = done.GetProperty("has_more").GetBoolean();
                // Every page but the last is full.
                Assert.Equal(hasMore ? limit : Math.Min(limit, page.Count), page.Count);
                byId.AddRange(page);
                afterId = done.GetProperty("last_id").GetInt64();
            }
            var live = latest.Where(m => m.Value.Command != "MESSAGE_DELETED").OrderBy(m => m.Key).ToList();
            Assert.Equal(live.Select(m => (m.Key, m.Value.Text)), byId.Select(m => (m.Id(), m.GetProperty("text").GetString()!)));

            var bySeq = new List<JsonElement>();
            var afterSeq = 0L;
            hasMore = true;
            while (hasMore)
            {
                var (page, done) = await bobWs.SyncChangesAsync(afterSeq, limit);
                hasMore = done.GetProperty("has_more").GetBoolean();
                Assert.Equal(hasMore ? limit : Math.Min(limit, page.Count), page.Count);
                bySeq.AddRange(page);
                afterSeq = done.GetProperty("last_seq").GetInt64();
            }
            // Whether an edited message comes as new or as edited depends on where the page's cursor was; deleted is deleted.
            Assert.Equal(latest.OrderBy(m => m.Value.Seq).Select(m => (m.Value.Command == "MESSAGE_DELETED", m.Key, m.Value.Seq)),
                bySeq.Select(c => (c.Command() == "MESSAGE_DELETED", c.Id(), c.Seq())));
        }

        // From a cursor in the middle, by seq: what changed after it, each message once.
        var middle = latest.Values.Select(v => v.Seq).Order().ElementAt(60);
        var (rest, _) = await bobWs.SyncChangesAsync(middle, 500);
        Assert.Equal(latest.Where(m => m.Value.Seq > middle).OrderBy(m => m.Value.Seq).Select(m => m.Key), rest.Select(c => c.Id()));
    }

    /// <summary>Two new people and a private chat between them.</summary>
    private async Task<(TestUser Ann, TestUser Bob, long ChatId)> TwoInAChatAsync()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        return (ann, bob, await ann.StartPrivateChatAsync(bob));
    }

    [Theory]
    [InlineData("""{"after_id": 0, "after_seq": 0}""")]
    [InlineData("""{"after_seq": -1}""")]
    [InlineData("""{"after_seq": "1"}""")]
    [InlineData("""{"after_seq": 0, "limit": 1001}""")]
    [InlineData("""{"limit": 10}""")]
    public async Task ASyncThatGivesBothCursorsNeitherOrABadOneIsRefused(string payload)
    {
        var ann = await app.RegisterAsync();
        await using var ws = await ann.ConnectAsync();

        await ws.SendRawAsync($$"""{"command": "SYNC", "payload": {{payload}}}""");

        await ws.ExpectErrorAsync("validation_failed");
        await ws.ExpectNothingPendingAsync(TimeSpan.Zero);
    }
}
