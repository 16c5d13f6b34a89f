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
        using var listener = Listen(source => !source.StartsWith("System.Net", StringComparison.Ordinal) && !source.StartsWith("Experimental.System.Net", StringComparison.Ordinal), activity =>
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

        Assert.NotEmpty(app.Logs);
        Assert.Contains(tags, t => t.Contains("/ws", StringComparison.Ordinal));
        foreach (var secret in new[] { ann.Token, bob.Token, ann.Token.Split('.')[2], ann.Password, "WrongPassword!", "secret plans" })
        {
            Assert.DoesNotContain(app.Logs, line => line.Contains(secret, StringComparison.Ordinal));
            Assert.DoesNotContain(tags, tag => tag.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task ASendCostsOneDatabaseRoundTrip()
    {
        var sends = new ConcurrentBag<Activity>();
        var databaseCalls = new ConcurrentBag<Activity>();
        using var listener = Listen(source => source is "WinDi.Api" or "Npgsql", activity =>
        {
            if (activity.OperationName == "message send") sends.Add(activity);
            else if (activity.Source.Name == "Npgsql") databaseCalls.Add(activity);
        });
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var ws = await ann.ConnectAsync();

        await ws.SendMessageAsync(chatId, "count my round trips", "round-trip-1");
        await ws.ExpectAsync("NEW_MESSAGE");
        await ws.SendMessageAsync(chatId, "count my round trips", "round-trip-1");
        await ws.ExpectAsync("NEW_MESSAGE");

        var mine = sends.Where(s => Equals(s.GetTagItem("windi.chat_id"), chatId)).ToList();
        Assert.Equal(2, mine.Count);
        // Physical connection opens (CONNECT) belong to the pool, not to the send.
        Assert.All(mine, send => Assert.Single(databaseCalls, call => call.ParentSpanId == send.SpanId && call.OperationName != "CONNECT"));
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

    [Theory]
    [InlineData(null, "Jwt__Secret is required")]
    [InlineData("too-short", "Jwt__Secret is too short")]
    public void OutsideDevelopmentTheApiRefusesToStartWithoutAStrongJwtSecret(string? secret, string message)
    {
        var error = Assert.ThrowsAny<Exception>(() =>
        {
            using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Jwt:Secret"] = secret });
        });
        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
    }

    private static ActivityListener Listen(Func<string, bool> sources, Action<Activity> stopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => sources(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
