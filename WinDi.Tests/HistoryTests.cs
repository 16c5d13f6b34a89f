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
    public async Task OffsetPagingCountsFromTheOldestMessageAsTheOriginalDoes()
    {
        var (ann, _, chatId, ids) = await ChatWithMessagesAsync(120);

        Assert.Equal(ids[0..50], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=50&offset=0")));
        Assert.Equal(ids[50..100], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=50&offset=50")));
        Assert.Equal(ids[100..120], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=50&offset=100")));
        Assert.Empty(Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=50&offset=120")));
        Assert.Equal(ids[0..50], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=50")));
        Assert.Equal(ids[20..120], Ids(await ann.GetJsonAsync($"/history/{chatId}?offset=20")));
        Assert.Equal(ids[0..5], Ids(await ann.GetJsonAsync($"/history/{chatId}?latest=false&limit=5")));
    }

    [Fact]
    public async Task NoPagingParameterMeansTheOldestHundredMessages()
    {
        var (ann, _, chatId, ids) = await ChatWithMessagesAsync(120);

        Assert.Equal(ids[0..100], Ids(await ann.GetJsonAsync($"/history/{chatId}")));
    }

    [Fact]
    public async Task LatestGivesTheNewestPageOldestFirst()
    {
        var (ann, _, chatId, ids) = await ChatWithMessagesAsync(120);

        Assert.Equal(ids[70..120], Ids(await ann.GetJsonAsync($"/history/{chatId}?latest=true&limit=50")));
        Assert.Equal(ids[20..120], Ids(await ann.GetJsonAsync($"/history/{chatId}?latest=true")));
        Assert.Equal(ids[20..70], Ids(await ann.GetJsonAsync($"/history/{chatId}?latest=true&limit=50&before_id={ids[70]}")));
        Assert.Equal(ids[20..70], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=50&before_id={ids[70]}")));
        Assert.Equal(ids[0..20], Ids(await ann.GetJsonAsync($"/history/{chatId}?limit=50&before_id={ids[20]}")));
    }

    [Fact]
    public async Task KeysetPagingScrollsBackAndForwardWithoutGapsOrRepeats()
    {
        var (ann, _, chatId, ids) = await ChatWithMessagesAsync(7);

        var seen = Ids(await ann.GetJsonAsync($"/history/{chatId}?latest=true&limit=3"));
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
    [InlineData("latest=maybe")]
    public async Task BadPagingIsABadRequest(string query)
    {
        var (ann, _, chatId, _) = await ChatWithMessagesAsync(1);
        var response = await ann.Http.GetAsync($"/history/{chatId}?{query}");
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("latest=true&offset=0", "latest")]
    [InlineData("latest=true&offset=20", "latest")]
    [InlineData("latest=true&after_id=3", "latest")]
    [InlineData("latest=true&limit=0", "limit")]
    [InlineData("offset=0&after_id=3", "offset")]
    public async Task PagingParametersThatContradictEachOtherAreAValidationProblem(string query, string field)
    {
        var (ann, _, chatId, _) = await ChatWithMessagesAsync(1);

        var problem = await (await ann.Http.GetAsync($"/history/{chatId}?{query}")).AssertProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task OnlyMembersMayReadHistory()
    {
        var (_, _, chatId, _) = await ChatWithMessagesAsync(1);
        var outsider = await app.RegisterAsync();

        foreach (var query in new[] { "", "?limit=50&offset=0", "?latest=true&limit=50", "?before_id=5" })
        {
            await (await outsider.Http.GetAsync($"/history/{chatId}{query}")).AssertProblemAsync(HttpStatusCode.Forbidden);
            await (await outsider.Http.GetAsync($"/history/{long.MaxValue}{query}")).AssertProblemAsync(HttpStatusCode.NotFound);
        }
    }

    [Fact]
    public async Task AMemberOfAChatWithNothingInThePageGetsAnEmptyPageNotAnError()
    {
        var (ann, _, chatId, ids) = await ChatWithMessagesAsync(2);
        var empty = await ann.CreateGroupAsync("Nothing yet");

        foreach (var (chat, query) in new[] { (empty, ""), (empty, "?latest=true"), (empty, "?before_id=5"), (chatId, $"?before_id={ids[0]}"),
            (chatId, $"?after_id={ids[1]}"), (chatId, "?offset=2") })
        {
            var response = await ann.Http.GetAsync($"/history/{chat}{query}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Empty(Ids(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement));
        }
    }

    [Fact]
    public async Task TheOpenApiDocumentDescribesEveryPagingParameter()
    {
        using var http = app.Anonymous();
        var document = await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        var parameters = document.GetProperty("paths").GetProperty("/history/{chatId}").GetProperty("get").GetProperty("parameters")
            .EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").ToList();

        Assert.Equal(["after_id", "before_id", "latest", "limit", "offset"], parameters.Select(p => p.GetProperty("name").GetString()).Order());
        Assert.All(parameters, p => Assert.False(string.IsNullOrWhiteSpace(p.GetProperty("description").GetString())));
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
