namespace WinDi.Tests;

public sealed class ChatsTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task APrivateChatIsNamedAfterTheOtherPersonForEachSide()
    {
        var ann = await app.RegisterAsync("Ann");
        var bob = await app.RegisterAsync("Bob");

        var response = await ann.Http.PostAsJsonAsync("/chats", new { is_group = false, recipient_id = bob.Id });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var chat = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Bob", chat.GetProperty("name").GetString());
        Assert.False(chat.GetProperty("is_group").GetBoolean());
        Assert.Equal(JsonValueKind.Null, chat.GetProperty("last_message").ValueKind);
        Assert.Equal(0, chat.GetProperty("unread_count").GetInt32());
        var seenByBob = await bob.GetJsonAsync($"/chats/{chat.Id()}");
        Assert.Equal("Ann", seenByBob.GetProperty("name").GetString());
    }

    [Fact]
    public async Task APrivateChatKeepsTheNameItWasGiven()
    {
        var ann = await app.RegisterAsync("Ann");
        var bob = await app.RegisterAsync("Bob");
        var response = await ann.Http.PostAsJsonAsync("/chats", new { is_group = false, recipient_id = bob.Id, name = "Project X" });
        var chat = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Project X", chat.GetProperty("name").GetString());
    }

    [Fact]
    public async Task ASecondPrivateChatWithTheSamePersonIsAConflictThatNamesTheChat()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);

        var fromAnn = await ann.Http.PostAsJsonAsync("/chats", new { is_group = false, recipient_id = bob.Id });
        var fromBob = await bob.Http.PostAsJsonAsync("/chats", new { is_group = false, recipient_id = ann.Id });

        Assert.Equal(chatId, (await fromAnn.AssertProblemAsync(HttpStatusCode.Conflict)).GetProperty("chat_id").GetInt64());
        Assert.Equal(chatId, (await fromBob.AssertProblemAsync(HttpStatusCode.Conflict)).GetProperty("chat_id").GetInt64());
    }

    [Fact]
    public async Task ParallelRequestsForTheSamePrivateChatCreateOneChat()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? ann : bob).Http
            .PostAsJsonAsync("/chats", new { is_group = false, recipient_id = i % 2 == 0 ? bob.Id : ann.Id })));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.Created), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        var (low, high) = (Math.Min(ann.Id, bob.Id), Math.Max(ann.Id, bob.Id));
        Assert.Equal(1L, await app.Postgres.ScalarAsync<long>(
            "SELECT count(*) FROM chats WHERE private_low_user_id = $1 AND private_high_user_id = $2", low, high));
    }

    [Fact]
    public async Task InvalidChatRequestsAreRefused()
    {
        var ann = await app.RegisterAsync();

        var withSelf = await ann.Http.PostAsJsonAsync("/chats", new { is_group = false, recipient_id = ann.Id });
        var neither = await ann.Http.PostAsJsonAsync("/chats", new { is_group = false });
        var groupWithoutName = await ann.Http.PostAsJsonAsync("/chats", new { is_group = true });
        var blankGroupName = await ann.Http.PostAsJsonAsync("/chats", new { is_group = true, name = "   " });
        var unknownRecipient = await ann.Http.PostAsJsonAsync("/chats", new { is_group = false, recipient_id = long.MaxValue });

        await withSelf.AssertProblemAsync(HttpStatusCode.BadRequest);
        await neither.AssertProblemAsync(HttpStatusCode.BadRequest);
        await groupWithoutName.AssertProblemAsync(HttpStatusCode.BadRequest);
        await blankGroupName.AssertProblemAsync(HttpStatusCode.BadRequest);
        await unknownRecipient.AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task AGroupStartsWithItsCreatorAndGrowsWithAddUser()
    {
        var owner = await app.RegisterAsync("Owner");
        var guest = await app.RegisterAsync("Guest");
        var response = await owner.Http.PostAsJsonAsync("/chats", new { is_group = true, name = "Book club" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var group = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Book club", group.GetProperty("name").GetString());
        Assert.True(group.GetProperty("is_group").GetBoolean());

        var added = await owner.Http.PostAsync($"/chats/{group.Id()}/add-user?user_id={guest.Id}", null);

        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        Assert.False(string.IsNullOrEmpty((await added.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()));
        var details = await guest.GetJsonAsync($"/chats/{group.Id()}");
        var members = details.GetProperty("members").EnumerateArray().Select(m => (m.Id(), m.GetProperty("name").GetString())).ToList();
        Assert.Equal([(owner.Id, "Owner"), (guest.Id, "Guest")], members);
    }

    [Fact]
    public async Task AddUserRefusesEveryInvalidCase()
    {
        var owner = await app.RegisterAsync();
        var member = await app.RegisterAsync();
        var outsider = await app.RegisterAsync();
        var groupId = await owner.CreateGroupAsync("Team", member);
        var privateId = await owner.StartPrivateChatAsync(member);

        await (await owner.Http.PostAsync($"/chats/{privateId}/add-user?user_id={outsider.Id}", null)).AssertProblemAsync(HttpStatusCode.BadRequest);
        await (await outsider.Http.PostAsync($"/chats/{groupId}/add-user?user_id={outsider.Id}", null)).AssertProblemAsync(HttpStatusCode.Forbidden);
        await (await owner.Http.PostAsync($"/chats/{long.MaxValue}/add-user?user_id={outsider.Id}", null)).AssertProblemAsync(HttpStatusCode.NotFound);
        await (await owner.Http.PostAsync($"/chats/{groupId}/add-user?user_id={long.MaxValue}", null)).AssertProblemAsync(HttpStatusCode.NotFound);
        await (await owner.Http.PostAsync($"/chats/{groupId}/add-user?user_id={member.Id}", null)).AssertProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task ParallelAddsOfOnePersonCreateOneMembership()
    {
        var owner = await app.RegisterAsync();
        var guest = await app.RegisterAsync();
        var groupId = await owner.CreateGroupAsync("Race");

        var statuses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
            (await owner.Http.PostAsync($"/chats/{groupId}/add-user?user_id={guest.Id}", null)).StatusCode));

        Assert.Single(statuses, s => s == HttpStatusCode.OK);
        Assert.All(statuses.Where(s => s != HttpStatusCode.OK), s => Assert.Equal(HttpStatusCode.Conflict, s));
    }

    [Fact]
    public async Task OnlyMembersMayOpenAChat()
    {
        var owner = await app.RegisterAsync();
        var outsider = await app.RegisterAsync();
        var groupId = await owner.CreateGroupAsync("Private club");

        await (await outsider.Http.GetAsync($"/chats/{groupId}")).AssertProblemAsync(HttpStatusCode.Forbidden);
        await (await outsider.Http.GetAsync($"/chats/{long.MaxValue}")).AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task LeavingAChatEndsAccessToIt()
    {
        var owner = await app.RegisterAsync();
        var member = await app.RegisterAsync();
        var groupId = await owner.CreateGroupAsync("Leavers", member);

        var left = await member.Http.DeleteAsync($"/chats/{groupId}/exit");

        Assert.Equal(HttpStatusCode.OK, left.StatusCode);
        Assert.False(string.IsNullOrEmpty((await left.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()));
        await (await member.Http.GetAsync($"/chats/{groupId}")).AssertProblemAsync(HttpStatusCode.Forbidden);
        await (await member.Http.DeleteAsync($"/chats/{groupId}/exit")).AssertProblemAsync(HttpStatusCode.Forbidden);
        await (await member.Http.DeleteAsync($"/chats/{long.MaxValue}/exit")).AssertProblemAsync(HttpStatusCode.NotFound);
        Assert.DoesNotContain((await member.GetJsonAsync("/chats")).EnumerateArray(), c => c.Id() == groupId);
        var remaining = (await owner.GetJsonAsync($"/chats/{groupId}")).GetProperty("members").EnumerateArray().Select(m => m.Id());
        Assert.Equal([owner.Id], remaining);
    }

    [Fact]
    public async Task SomeoneWhoLeftAPrivateChatGetsBackIntoItByStartingItAgain()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await ann.Http.DeleteAsync($"/chats/{chatId}/exit");

        var again = await ann.Http.PostAsJsonAsync("/chats", new { is_group = false, recipient_id = bob.Id });

        Assert.Equal(chatId, (await again.AssertProblemAsync(HttpStatusCode.Conflict)).GetProperty("chat_id").GetInt64());
        Assert.Equal(HttpStatusCode.OK, (await ann.Http.GetAsync($"/chats/{chatId}")).StatusCode);
    }

    [Fact]
    public async Task TheChatListShowsTheLastMessageAndUnreadCountMostRecentFirst()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync("Bob");
        var cat = await app.RegisterAsync("Cat");
        var withBob = await ann.StartPrivateChatAsync(bob);
        var withCat = await ann.StartPrivateChatAsync(cat);
        var group = await ann.CreateGroupAsync("Trio", bob, cat);

        await bob.SendAsync(withBob, "one");
        await bob.SendAsync(withBob, "two");
        await cat.SendAsync(group, "group hello");
        await ann.SendAsync(withCat, "ann to cat");

        var chats = (await ann.GetJsonAsync("/chats")).EnumerateArray().ToList();

        Assert.Equal([withCat, group, withBob], chats.Select(c => c.Id()));
        Assert.Equal("ann to cat", chats[0].GetProperty("last_message").GetProperty("text").GetString());
        Assert.Equal(0, chats[0].GetProperty("unread_count").GetInt32());
        Assert.Equal(1, chats[1].GetProperty("unread_count").GetInt32());
        Assert.Equal("two", chats[2].GetProperty("last_message").GetProperty("text").GetString());
        Assert.Equal(2, chats[2].GetProperty("unread_count").GetInt32());
        Assert.Equal(bob.Id, chats[2].GetProperty("last_message").GetProperty("sender_id").GetInt64());
    }

    [Fact]
    public async Task ANewGroupMemberStartsWithNothingUnreadAndOldReceiptsStay()
    {
        var owner = await app.RegisterAsync();
        var first = await app.RegisterAsync();
        var late = await app.RegisterAsync();
        var group = await owner.CreateGroupAsync("Receipts", first);
        var message = await owner.SendAsync(group, "before you joined");
        await first.MarkReadAsync(message.Id());

        await owner.Http.PostAsync($"/chats/{group}/add-user?user_id={late.Id}", null);

        var chat = (await late.GetJsonAsync("/chats")).EnumerateArray().Single(c => c.Id() == group);
        Assert.Equal(0, chat.GetProperty("unread_count").GetInt32());
        Assert.True(chat.GetProperty("last_message").GetProperty("is_read").GetBoolean());
    }

    [Fact]
    public async Task UnreadCountsAndLastMessagesLeaveDeletedMessagesAndOnesOwnOutInTheListAndInOneChat()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var group = await ann.CreateGroupAsync("Counts", bob);
        var emptied = await ann.CreateGroupAsync("Emptied", bob);
        await using var bobWs = await bob.ConnectAsync();
        var sent = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            sent.Add((await bobWs.SendAndEchoAsync(group, $"bob {i}")).Id());
        }
        await ann.SendAsync(group, "ann's own");
        Assert.Equal("ann's own", (await bobWs.ExpectAsync("NEW_MESSAGE")).GetProperty("text").GetString());
        var only = (await bobWs.SendAndEchoAsync(emptied, "soon gone")).Id();
        await ann.MarkReadAsync(sent[0]);
        await bobWs.ExpectAsync("READ_MESSAGE");

        async Task<(long? Last, string? Text, int Unread)> SeenByAnnAsync(long chatId)
        {
            var listed = (await ann.GetJsonAsync("/chats")).EnumerateArray().Single(c => c.Id() == chatId);
            var opened = await ann.GetJsonAsync($"/chats/{chatId}");
            foreach (var field in new[] { "last_message", "unread_count" })
            {
                Assert.Equal(listed.GetProperty(field).ToString(), opened.GetProperty(field).ToString());
            }
            var last = listed.GetProperty("last_message");
            return last.ValueKind == JsonValueKind.Null ? (null, null, listed.GetProperty("unread_count").GetInt32())
                : (last.Id(), last.GetProperty("text").GetString(), listed.GetProperty("unread_count").GetInt32());
        }

        // Four of Bob's after the marker; Ann's own message is the last one but never unread.
        Assert.Equal(4, (await SeenByAnnAsync(group)).Unread);
        Assert.Equal("ann's own", (await SeenByAnnAsync(group)).Text);

        await bobWs.DeleteMessageAsync(sent[2]);
        await bobWs.ExpectAsync("MESSAGE_DELETED");
        await bobWs.EditMessageAsync(sent[4], "bob 4, edited");
        await bobWs.ExpectAsync("MESSAGE_EDITED");
        Assert.Equal(3, (await SeenByAnnAsync(group)).Unread);

        await bobWs.DeleteMessageAsync(only);
        await bobWs.ExpectAsync("MESSAGE_DELETED");
        Assert.Equal(((long?)null, (string?)null, 0), await SeenByAnnAsync(emptied));

        // With Ann's message deleted too (by the API's rule only its sender may; here behind its back), the last
        // message is Bob's edited one.
        await app.Postgres.ExecuteAsync("UPDATE messages SET deleted_at = now(), text = '' WHERE chat_id = $1 AND sender_id = $2", group, ann.Id);
        Assert.Equal(((long?)sent[4], (string?)"bob 4, edited", 3), await SeenByAnnAsync(group));
        await ann.MarkReadAsync(sent[4]);
        Assert.Equal(((long?)sent[4], (string?)"bob 4, edited", 0), await SeenByAnnAsync(group));
    }
}
