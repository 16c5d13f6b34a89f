namespace WinDi.Tests;

public sealed class HistoryTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly WinDiApp app = shared.App;

    private async Task<(TestUser Ann, TestUser Bob, long ChatId, List<long> Ids)> ChatWithMessagesAsync(int count)
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var ids = new List<long>();
        await using var ws = await ann.ConnectAsync();
        for (var i = 1; i <= count; i++)
        {
            await ws.SendMessageAsync(chatId, $"message {i}");
            ids.Add((await ws.ExpectAsync("NEW_MESSAGE")).Id());
        }
        return (ann, bob, chatId, ids);
    }

    private static List<long> Ids(JsonElement page) => [.. page.EnumerateArray().Select(m => m.Id())];

    [Fact]
    public async Task HistoryReturnsTheMessagesOldestFirstWithEveryField()
    {
        var (ann, _, chatId, ids) = await ChatWithMessagesAsync(3);

        var page = await ann.GetJsonAsync($"/history/{chatId}");

        Assert.Equal(ids, Ids(page));
        var first = page[0];
        Assert.Equal(chatId, first.GetProperty("chat_id").GetInt64());
        Assert.Equal(ann.Id, first.GetProperty("sender_id").GetInt64());
        Assert.Equal("message 1", first.GetProperty("text").GetString());
        Assert.False(string.IsNullOrEmpty(first.GetProperty("client_message_id").GetString()));
        Assert.InRange(first.GetProperty("timestamp").GetInt64(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5);
        Assert.False(first.GetProperty("is_read").GetBoolean());
    }

    [Fact]
    public async Task OffsetCountsBackFromTheNewestMessage()
    {
        var (ann, _, chatId, ids) = await ChatWithMessagesAsync(7);

        Assert.Equal(ids[4..7], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=3&offset=0")));
        Assert.Equal(ids[1..4], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=3&offset=3")));
        Assert.Equal(ids[0..1], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=3&offset=6")));
        Assert.Empty(Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=3&offset=7")));
    }

    [Fact]
    public async Task KeysetPagingScrollsBackAndForwardWithoutGapsOrRepeats()
    {
        var (ann, _, chatId, ids) = await ChatWithMessagesAsync(7);

        var seen = Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=3"));
        while (true)
        {
            var older = Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=3&before_id={seen[0]}"));
            if (older.Count == 0) break;
            seen.InsertRange(0, older);
        }

        Assert.Equal(ids, seen);
        Assert.Equal(ids[3..6], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=3&after_id={ids[2]}")));
        Assert.Empty(Ids(await ann.GetJsonAsync($"/history/{chatId}?after_id={ids[^1]}")));
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=101")]
    [InlineData("limit=abc")]
    [InlineData("offset=-1")]
    [InlineData("before_id=5&after_id=3")]
    [InlineData("offset=1&before_id=5")]
    [InlineData("before_id=0")]
    public async Task BadPagingIsABadRequest(string query)
    {
        var (ann, _, chatId, _) = await ChatWithMessagesAsync(1);
        var response = await ann.Http.GetAsync($"/history/{chatId}?{query}");
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task OnlyMembersMayReadHistory()
    {
        var (_, _, chatId, _) = await ChatWithMessagesAsync(1);
        var outsider = await app.RegisterAsync();

        await (await outsider.Http.GetAsync($"/history/{chatId}")).AssertProblemAsync(HttpStatusCode.Forbidden);
        await (await outsider.Http.GetAsync($"/history/{long.MaxValue}")).AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task InAGroupAMessageIsReadOnlyWhenEveryOtherMemberHasReadIt()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var cat = await app.RegisterAsync();
        var group = await ann.CreateGroupAsync("Readers", bob, cat);
        var message = await ann.SendAsync(group, "read me");

        async Task<bool> IsRead() => (await ann.GetJsonAsync($"/history/{group}"))[0].GetProperty("is_read").GetBoolean();

        Assert.False(await IsRead());
        await bob.MarkReadAsync(message.Id());
        Assert.False(await IsRead());
        await cat.MarkReadAsync(message.Id());
        Assert.True(await IsRead());
    }

    [Fact]
    public async Task IsReadIsJudgedByTheMembersAtTheTimeItIsAsked()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var cat = await app.RegisterAsync();
        var group = await ann.CreateGroupAsync("Shrinking", bob, cat);
        var message = await ann.SendAsync(group, "who read this?");
        await bob.MarkReadAsync(message.Id());

        await cat.Http.DeleteAsync($"/chats/{group}/exit");

        Assert.True((await ann.GetJsonAsync($"/history/{group}"))[0].GetProperty("is_read").GetBoolean());
    }
}
