namespace WinDi.Tests.Infrastructure;

/// <summary>The REST calls tests make over and over, asserting the happy path.</summary>
public static class ApiCalls
{
    public static async Task<long> StartPrivateChatAsync(this TestUser user, TestUser other)
    {
        var response = await user.Http.PostAsJsonAsync("/chats", new { is_group = false, recipient_id = other.Id });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    public static async Task<long> CreateGroupAsync(this TestUser owner, string name, params TestUser[] members)
    {
        var response = await owner.Http.PostAsJsonAsync("/chats", new { is_group = true, name });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var chatId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        foreach (var member in members)
        {
            var added = await owner.Http.PostAsync($"/chats/{chatId}/add-user?user_id={member.Id}", null);
            Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        }
        return chatId;
    }

    public static async Task<JsonElement> GetJsonAsync(this TestUser user, string path)
    {
        var response = await user.Http.GetAsync(path);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Sends over a fresh connection and returns the stored message as echoed to the sender.</summary>
    public static async Task<JsonElement> SendAsync(this TestUser user, long chatId, string text)
    {
        await using var ws = await user.ConnectAsync();
        await ws.SendMessageAsync(chatId, text);
        return await ws.ExpectAsync("NEW_MESSAGE");
    }

    /// <summary>Marks a message read over a fresh connection and waits until the server has handled it.</summary>
    public static async Task MarkReadAsync(this TestUser reader, long messageId)
    {
        await using var ws = await reader.ConnectAsync();
        await ws.SendAsync("READ_MESSAGE", new { id = messageId });
        // Frames are handled in order: the PONG comes after the read, and after its event to the reader's
        // own connections (this one included) if the marker moved.
        await ws.SendAsync("PING");
        var frame = await ws.ReceiveAsync();
        if (frame.GetProperty("command").GetString() == "READ_MESSAGE")
        {
            frame = await ws.ReceiveAsync();
        }
        Assert.Equal("PONG", frame.GetProperty("command").GetString());
    }

    /// <summary>
    /// Fires one client_message_id from every connection at once, then asserts that one message was stored:
    /// every answer carries its id, and the recipient hears it exactly once. Disposes the connections.
    /// </summary>
    public static async Task AssertParallelRepeatsStoreOneAsync(this TestUser sender, long chatId, IReadOnlyList<WsClient> connections, int sendsEach, WsClient recipient)
    {
        var key = Guid.NewGuid().ToString("N");
        await Task.WhenAll(connections.SelectMany(ws => Enumerable.Range(0, sendsEach).Select(_ => ws.SendMessageAsync(chatId, "only once", key))));

        var ids = new List<long>();
        foreach (var ws in connections)
        {
            // Each of a connection's sends is answered (the original, or the original again); the live copy may come too.
            for (var i = 0; i < sendsEach; i++)
            {
                ids.Add((await ws.ExpectAsync("NEW_MESSAGE")).Id());
            }
        }
        Assert.Single(ids.Distinct());
        Assert.Equal(ids[0], (await recipient.ExpectAsync("NEW_MESSAGE")).Id());
        await recipient.ExpectNothingPendingAsync();
        Assert.Equal(1L, await sender.App.Postgres.ScalarAsync<long>(
            "SELECT count(*) FROM messages WHERE sender_id = $1 AND client_message_id = $2", sender.Id, key));
        foreach (var ws in connections)
        {
            await ws.DisposeAsync();
        }
    }

    /// <summary>Asserts an RFC 9457 problem document with a human detail, and returns it.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), body);
        return problem;
    }

    public static long Id(this JsonElement element) => element.GetProperty("id").GetInt64();

    public static long Seq(this JsonElement element) => element.GetProperty("seq").GetInt64();

    public static string Command(this JsonElement element) => element.GetProperty("command").GetString()!;
}
