using System.Collections.Concurrent;
using System.Diagnostics;

namespace WinDi.Tests;

public sealed class ObservabilityTests(PostgresServer postgres)
{
    [Fact]
    public async Task TokensAndPasswordsNeverReachLogsOrTraces()
    {
        var tags = new ConcurrentQueue<string>();
        // Every source but the client side of System.Net, which is this test's own ClientWebSocket and HttpClient.
        using var listener = Traces.Listen(source => !source.StartsWith("System.Net", StringComparison.Ordinal) && !source.StartsWith("Experimental.System.Net", StringComparison.Ordinal), activity =>
        {
            tags.Enqueue(activity.DisplayName);
            foreach (var tag in activity.TagObjects) tags.Enqueue($"{tag.Key}={tag.Value}");
        });
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);

        await using (var byPath = await WsClient.ConnectAsync(app, ann.Token))
        await using (var byQuery = await WsClient.ConnectAsync(app, bob.Token, viaQuery: true))
        {
            await byPath.SendMessageAsync(chatId, "secret plans");
            await byPath.ExpectAsync("NEW_MESSAGE");
            await byQuery.ExpectAsync("NEW_MESSAGE");
            await byPath.SendRawAsync("{broken");
            await byPath.ExpectErrorAsync("invalid_json");
        }
        await ann.Http.GetAsync($"/history/{chatId}");
        using var anonymous = app.Anonymous();
        await anonymous.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = ann.Email, ["password"] = "WrongPassword!" }));
        // A refresh, a reuse of the rotated token (which ends the session), and a logout: the refresh tokens stay out too.
        var refreshed = Tokens.From(await (await app.RefreshAsync(bob.RefreshToken)).Content.ReadFromJsonAsync<JsonElement>());
        Assert.Equal(HttpStatusCode.BadRequest, (await app.RefreshAsync(bob.RefreshToken)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await ann.Http.PostAsync("/logout", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.RefreshAsync(ann.RefreshToken)).StatusCode);

        Assert.NotEmpty(app.Logs);
        Assert.Contains(tags, t => t.Contains("/ws", StringComparison.Ordinal));
        Assert.Contains(app.Logs, line => line.Contains("was used again: the session is revoked", StringComparison.Ordinal));
        foreach (var secret in new[] { ann.Token, bob.Token, ann.Token.Split('.')[2], ann.Password, "WrongPassword!", "secret plans",
            ann.RefreshToken, bob.RefreshToken, refreshed.RefreshToken, refreshed.AccessToken.Split('.')[2] })
        {
            Assert.DoesNotContain(app.Logs, line => line.Contains(secret, StringComparison.Ordinal));
            Assert.DoesNotContain(tags, tag => tag.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task ASendCostsOneDatabaseRoundTrip()
    {
        using var roundTrips = new RoundTrips("message send");
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var ws = await ann.ConnectAsync();

        await ws.SendMessageAsync(chatId, "count my round trips", "round-trip-1");
        await ws.ExpectAsync("NEW_MESSAGE");
        await ws.SendMessageAsync(chatId, "count my round trips", "round-trip-1");
        await ws.ExpectAsync("NEW_MESSAGE");

        var mine = roundTrips.Frames.Where(s => Equals(s.GetTagItem("windi.chat_id"), chatId)).ToList();
        Assert.Equal(2, mine.Count);
        foreach (var send in mine)
        {
            // The writer stores concurrent sends together; its batch span links the sends it carried.
            roundTrips.AssertOneRoundTrip(send);
        }
    }

    [Fact]
    public async Task ManySendersShareOneCommit()
    {
        using var batches = new SendBatches();
        await using var app = new WinDiApp(postgres);
        var owner = await app.RegisterAsync();
        var members = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => app.RegisterAsync()));
        var group = await owner.CreateGroupAsync("Group commit", members);
        var sockets = await Task.WhenAll(members.Select(m => m.ConnectAsync()));

        await Task.WhenAll(sockets.Select(async (ws, i) =>
        {
            for (var m = 0; m < 20; m++)
            {
                await ws.SendMessageAsync(group, $"{i}:{m}", $"gc-{i}-{m}");
                while ((await ws.ExpectAsync("NEW_MESSAGE")).GetProperty("client_message_id").GetString() != $"gc-{i}-{m}")
                {
                }
            }
        }));

        var sizes = batches.SizesFor(group);
        Assert.Equal(160, sizes.Sum());
        Assert.True(sizes.Count < 160, $"160 concurrent sends went in {sizes.Count} commits");
        Assert.Equal(160L, await postgres.ScalarAsync<long>("SELECT count(*) FROM messages WHERE chat_id = $1", group));
        foreach (var ws in sockets)
        {
            await ws.DisposeAsync();
        }
    }

    [Fact]
    public async Task HealthAndAlivenessAnswerAndTheApiIsDocumented()
    {
        await using var app = new WinDiApp(postgres);
        using var http = app.Anonymous();

        Assert.Equal("Healthy", await http.GetStringAsync("/health"));
        Assert.Equal("Healthy", await http.GetStringAsync("/alive"));
        var document = await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var bearer = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("bearer", bearer.GetProperty("scheme").GetString());
        Assert.True(document.GetProperty("paths").GetProperty("/chats").GetProperty("get").TryGetProperty("security", out _));
        Assert.False(document.GetProperty("paths").GetProperty("/register").GetProperty("post").TryGetProperty("security", out _));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/scalar")).StatusCode);
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = app.BaseAddress };
        var docs = await noRedirects.GetAsync("/docs");
        Assert.Equal(HttpStatusCode.Redirect, docs.StatusCode);
        Assert.Equal("/scalar", docs.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task HealthReportsUnhealthyWhenTheDatabaseIsUnreachable()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?>
        {
            ["ConnectionStrings:windi"] = $"Host=127.0.0.1;Port={PostgresServer.FreePort()};Username=postgres;Database=windi;Timeout=2",
        });
        using var http = app.Anonymous();

        var health = await http.GetAsync("/health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/alive")).StatusCode);
    }

    /// <summary>
    /// Run as its own process, as an operator starts it: hosted in the test process, a failed start races the test host's
    /// own start, which then reports that its service provider is disposed instead of the API's error.
    /// </summary>
    [Theory]
    [InlineData(null, "Jwt__Secret is required")]
    [InlineData("too-short", "Jwt__Secret is too short")]
    public async Task OutsideDevelopmentTheApiRefusesToStartWithoutAStrongJwtSecret(string? secret, string message)
    {
        var run = await ProgramRun.RunAsync("WinDi.Api.dll", new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["ConnectionStrings__windi"] = postgres.ConnectionString,
            ["ConnectionStrings__redis"] = null,
            ["Jwt__Secret"] = secret,
        });

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains(message, run.Output, StringComparison.Ordinal);
    }
}
