using System.Text;

namespace WinDi.Tests;

/// <summary>
/// DESIGN §5: text PostgreSQL cannot store (a NUL) or that is not valid UTF-16 (a lone surrogate) is refused where it
/// comes in, on the WebSocket and on REST, so it never reaches the database, where it would fail a whole batch.
/// </summary>
public sealed class StorableTextTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task AFloodOfSendsWithNulsOrLoneSurrogatesNeverFailsAnotherSendersMessages()
    {
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var mallory = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        var malloryChat = await mallory.StartPrivateChatAsync(bob);
        await using var annWs = await ann.ConnectAsync();
        await using var bobWs = await bob.ConnectAsync();
        var flooders = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => mallory.ConnectAsync()));
        const int poisonedEach = 40, sends = 100;
        var keys = Enumerable.Range(0, sends).Select(i => $"ann-{i}").ToList();

        // Each flooding connection has its own poison (as JSON escapes): a NUL in the text, a NUL in the key,
        // a lone surrogate in the text, a lone surrogate in the key.
        static (string Text, string Key, bool KeyIsStorable) Poison(int connection, int i) => (connection % 4) switch
        {
            0 => ($"poison \\u0000 {i}", $"p-{connection}-{i}", true),
            1 => ($"poison {i}", $"p-{connection}-{i}\\u0000", false),
            2 => ($"poison \\ud800 {i}", $"p-{connection}-{i}", true),
            _ => ($"poison {i}", $"\\udfffp-{connection}-{i}", false),
        };
        var flood = flooders.Select((ws, c) => Task.Run(async () =>
        {
            for (var i = 0; i < poisonedEach; i++)
            {
                var (text, key, _) = Poison(c, i);
                await ws.SendRawAsync($$$"""{"command":"SEND_MESSAGE","payload":{"chat_id":{{{malloryChat}}},"text":"{{{text}}}","client_message_id":"{{{key}}}"}}""");
            }
        }));
        var annSending = Task.Run(async () =>
        {
            foreach (var key in keys)
            {
                await annWs.SendMessageAsync(chatId, $"hello {key}", key);
            }
        });
        await Task.WhenAll([.. flood, annSending]);

        var echoes = new List<JsonElement>();
        for (var i = 0; i < sends; i++)
        {
            echoes.Add(await annWs.ExpectAsync("NEW_MESSAGE"));
        }
        Assert.Equal(keys, echoes.Select(e => e.GetProperty("client_message_id").GetString()));
        Assert.Equal(echoes.Select(e => e.Id()).Order(), echoes.Select(e => e.Id()));
        var delivered = new List<string>();
        for (var i = 0; i < sends; i++)
        {
            delivered.Add((await bobWs.ExpectAsync("NEW_MESSAGE")).GetProperty("client_message_id").GetString()!);
        }
        Assert.Equal(keys, delivered);
        foreach (var (ws, c) in flooders.Select((ws, c) => (ws, c)))
        {
            for (var i = 0; i < poisonedEach; i++)
            {
                var error = await ws.ExpectErrorAsync("validation_failed");
                var (_, key, keyIsStorable) = Poison(c, i);
                if (keyIsStorable)
                {
                    Assert.Equal(key, error.GetProperty("client_message_id").GetString());
                }
                else
                {
                    Assert.False(error.TryGetProperty("client_message_id", out _), error.ToString());
                }
            }
            await ws.ExpectNothingPendingAsync(TimeSpan.Zero);
            await ws.DisposeAsync();
        }
        await annWs.ExpectNothingPendingAsync(TimeSpan.Zero);
        await bobWs.ExpectNothingPendingAsync(TimeSpan.Zero);
        Assert.Equal(0L, await app.Postgres.ScalarAsync<long>("SELECT count(*) FROM messages WHERE sender_id = $1", mallory.Id));
        Assert.Equal((long)sends, await app.Postgres.ScalarAsync<long>("SELECT count(*) FROM messages WHERE sender_id = $1", ann.Id));
    }

    [Theory]
    [InlineData("POST", "/register", """{"name":"Ann\u0000","email":"{email}","password":"secret1"}""", "name")]
    [InlineData("POST", "/register", """{"name":"Ann\ud800","email":"{email}","password":"secret1"}""", "name")]
    [InlineData("POST", "/register", """{"name":"Ann","email":"\udfff{email}","password":"secret1"}""", "email")]
    [InlineData("POST", "/register", """{"name":"Ann","email":"{email}","password":"secret\u00001"}""", "password")]
    [InlineData("POST", "/chats", """{"is_group":true,"name":"Team\u0000"}""", "name")]
    [InlineData("POST", "/chats", """{"is_group":true,"name":"\ud800Team"}""", "name")]
    [InlineData("POST", "/token", "username=ann%00%40example.com&password=secret1", "body")]
    [InlineData("POST", "/token", "username=nobody%40example.com&password=secret%001", "body")]
    [InlineData("GET", "/users?search=An%00", null, "search")]
    public async Task RestTextThatCannotBeStoredIsABadRequestNamingTheField(string method, string path, string? body, string field)
    {
        var ann = await app.RegisterAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            var mediaType = path == "/token" ? "application/x-www-form-urlencoded" : "application/json";
            request.Content = new StringContent(body.Replace("{email}", $"new.{Guid.NewGuid():N}@example.com"), Encoding.UTF8, mediaType);
        }

        using var response = await ann.Http.SendAsync(request);

        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _), problem.ToString());
    }
}
