using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using WinDi.Tests.Browser;
using static Microsoft.Playwright.Assertions;

namespace WinDi.Tests.Dashboard;

/// <summary>
/// The Aspire dashboard of the real AppHost, in Debian's Chromium: what a developer sees after ./run.sh.
/// </summary>
[Collection(DashboardTestGroup.Name)]
public sealed class DashboardTests(DashboardAppHost apphost, Chromium chromium) : IClassFixture<DashboardAppHost>, IClassFixture<Chromium>
{
    // Seed data on a fresh database (see the README): Alice, and chat 1, her private chat with Ben.
    private const string AliceEmail = "alice.wright87@example.com";
    private const string AlicePassword = "Zx7!pTn9vR";
    private const long AliceId = 1;
    private const long AliceAndBenChatId = 1;

    private static readonly string[] Servers = ["postgres", "windi", "redis"];
    private static readonly string[] RunOnce = ["postgres-init", "migrations"];
    private const int ApiReplicas = 2;

    /// <summary>What a socket's trace logs: "Connection … opened for user 1" and "Connection … of user 1 closed".</summary>
    private const int SocketLogEntries = 2;

    /// <summary>
    /// From the AppHost's start to every resource Running or Finished: 25 s here on a quiet machine, 100 s while
    /// other test runs load both cores.
    /// </summary>
    private static readonly TimeSpan StartWithin = TimeSpan.FromSeconds(150);

    /// <summary>Spans leave each replica in batches (Aspire sets a 1 s schedule) and the dashboard renders them live.</summary>
    private static readonly TimeSpan TelemetryWithin = TimeSpan.FromSeconds(60);

    [Fact(Timeout = 300_000)]
    public async Task EveryResourceIsUpAndAMessageSentThroughTheApiLeavesItsTraceButNoSecret()
    {
        await using var context = await OpenContextAsync();
        var dashboard = await DashboardPage.OpenAsync(context);
        try
        {
            await LogInAsync(dashboard);

            // Resources: the servers and both replicas Running, the run-once steps Finished with exit code 0.
            var rows = await WaitUntilEveryResourceIsUpAsync(dashboard);
            Assert.Equal(Servers.Length + RunOnce.Length + ApiReplicas, rows.Count);
            await dashboard.DismissNotificationsAsync();
            await SaveResourcesScreenshotAsync(dashboard);
            foreach (var step in RunOnce)
            {
                await dashboard.OpenDetailsAsync(step);
                await Expect(dashboard.Property("State")).ToHaveTextAsync("Finished");
                await Expect(dashboard.Property("Exit code")).ToHaveTextAsync("0");
            }
            var api = ApiAddress(rows);

            // What the fixture waits for when it stops the AppHost: the servers, both replicas, DCP and the dashboard
            // are among the processes it follows, so its check that none outlives the AppHost is not empty.
            var processes = apphost.Processes().Select(p => Path.GetFileName(p.Command.Split(' ')[0])).ToList();
            Assert.Contains("postgres", processes);
            Assert.Contains("redis-server", processes);
            Assert.Contains("dcp", processes);
            Assert.Contains("Aspire.Dashboard", processes);
            Assert.Equal(ApiReplicas, processes.Count(p => p == "WinDi.Api"));

            // Parameters: the JWT secret is there, Running, and masked.
            await dashboard.Page.Locator("#tab-Parameters").ClickAsync();
            var parameters = await dashboard.WaitForRowsAsync(r => r.Any(p => p.Name == "jwt-secret"), TimeSpan.FromSeconds(20), "the parameter jwt-secret");
            Assert.Equal("jwt-secret: Running", Assert.Single(parameters).ToString());
            Assert.DoesNotContain(apphost.JwtSecret, await dashboard.TextAndMarkupAsync(), StringComparison.Ordinal);

            // Alice logs in and sends through the API's proxy, each request with a trace id of the test's choosing
            // (W3C traceparent), so that the dashboard's traces are found by id, not by time or name.
            var loginTrace = ActivityTraceId.CreateRandom();
            var socketTrace = ActivityTraceId.CreateRandom();
            using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(30) };
            await WaitUntilHealthyAsync(http, TestContext.Current.CancellationToken);
            var token = await LogInAliceAsync(http, loginTrace, TestContext.Current.CancellationToken);
            var text = $"Checking the dashboard {Guid.NewGuid():N}";
            await SendAsync(api, $"/ws?access_token={Uri.EscapeDataString(token)}", socketTrace, text);

            // Traces: the send's own trace, through the socket's, and its "message send" span from WinDi.Api.
            var sendTrace = await FindSendTraceAsync(dashboard, socketTrace);
            await dashboard.DismissNotificationsAsync();
            await AttachScreenshotAsync(dashboard, "dashboard-trace-message-send");
            await dashboard.Page.GotoAsync("/traces");
            await Expect(TraceRow(dashboard, sendTrace)).ToContainTextAsync("api: message send");

            await AssertNoSecretOnTracesAndLogsAsync(dashboard, [(loginTrace, 0), (sendTrace, 0), (socketTrace, SocketLogEntries)],
                Secrets(token, text, ("the JWT signing key", apphost.JwtSecret)));
            await dashboard.DismissNotificationsAsync();
            await AttachScreenshotAsync(dashboard, "dashboard-structured-logs");
        }
        catch
        {
            await AttachFailureEvidenceAsync(dashboard);
            throw;
        }
    }

    /// <summary>
    /// GET /ws/{token}, the README's path form, puts the token in the request path: the trace enrichment rewrites
    /// url.path, and with the hosting diagnostics category off no log scope carries the path (RequestPath) into
    /// the connection's log entries. Before that, the dashboard showed the token in "Connection … opened".
    /// </summary>
    [Fact(Timeout = 300_000)]
    public async Task AnAccessTokenInTheSocketPathStaysOffTheDashboard()
    {
        await using var context = await OpenContextAsync();
        var dashboard = await DashboardPage.OpenAsync(context);
        try
        {
            await LogInAsync(dashboard);
            var api = ApiAddress(await WaitUntilEveryResourceIsUpAsync(dashboard));
            using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(30) };
            await WaitUntilHealthyAsync(http, TestContext.Current.CancellationToken);
            var token = await LogInAliceAsync(http, ActivityTraceId.CreateRandom(), TestContext.Current.CancellationToken);
            var socketTrace = ActivityTraceId.CreateRandom();
            var text = $"Checking the path form {Guid.NewGuid():N}";

            await SendAsync(api, $"/ws/{token}", socketTrace, text);

            var sendTrace = await FindSendTraceAsync(dashboard, socketTrace);
            await AssertNoSecretOnTracesAndLogsAsync(dashboard, [(sendTrace, 0), (socketTrace, SocketLogEntries)],
                Secrets(token, text, ("the JWT signing key", apphost.JwtSecret)));
        }
        catch
        {
            await AttachFailureEvidenceAsync(dashboard);
            throw;
        }
    }

    private async Task<IBrowserContext> OpenContextAsync()
    {
        var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = apphost.DashboardAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 800 },
            Locale = "en-GB",
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(30_000);
        return context;
    }

    private async Task LogInAsync(DashboardPage dashboard)
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"AppHost: login URL after {apphost.TimeToLoginUrl.TotalSeconds:0.0} s");
        await dashboard.Page.GotoAsync(apphost.LoginUrl.ToString());
        // The token is exchanged for a cookie and the browser lands on the Resources page.
        await Expect(dashboard.Page).ToHaveURLAsync(new Regex("^" + Regex.Escape(apphost.DashboardAddress.ToString()) + @"(\?.*)?$"));
        await Expect(dashboard.Page.Locator("#tab-Table")).ToBeVisibleAsync();
    }

    private async Task<IReadOnlyList<ResourceRow>> WaitUntilEveryResourceIsUpAsync(DashboardPage dashboard)
    {
        var rows = await dashboard.WaitForRowsAsync(AllUp, StartWithin - apphost.SinceStart.Elapsed,
            $"{string.Join(", ", Servers)} and {ApiReplicas} api replicas Running, {string.Join(" and ", RunOnce)} Finished");
        TestContext.Current.TestOutputHelper?.WriteLine($"AppHost: every resource up after {apphost.SinceStart.Elapsed.TotalSeconds:0.0} s");
        return rows;
    }

    private static bool AllUp(IReadOnlyList<ResourceRow> rows) =>
        rows.Count == Servers.Length + RunOnce.Length + ApiReplicas
        && Servers.All(name => rows.Any(r => r.Name == name && r.State == "Running"))
        && RunOnce.All(name => rows.Any(r => r.Name == name && r.State == "Finished"))
        && rows.Count(r => r.Name.StartsWith("api-", StringComparison.Ordinal) && r.State == "Running") == ApiReplicas;

    /// <summary>The API's address as the replicas' rows show it: one URL, the DCP proxy in front of both (never 8000 here).</summary>
    private static Uri ApiAddress(IReadOnlyList<ResourceRow> rows)
    {
        var urls = rows.Where(r => r.Name.StartsWith("api-", StringComparison.Ordinal)).SelectMany(r => r.Urls).Distinct().ToList();
        var api = new Uri(Assert.Single(urls));
        Assert.NotEqual(8000, api.Port);
        return api;
    }

    /// <summary>The dashboard says Running; the proxy may still be finding the replicas. /health answers 200 then.</summary>
    private static async Task WaitUntilHealthyAsync(HttpClient http, CancellationToken cancellationToken)
    {
        var last = "no answer";
        for (var deadline = Stopwatch.StartNew(); deadline.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(500, cancellationToken))
        {
            try
            {
                using var health = await http.GetAsync("/health", cancellationToken);
                if (health.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
                last = $"{(int)health.StatusCode} {await health.Content.ReadAsStringAsync(cancellationToken)}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
        }
        throw new TimeoutException($"GET {http.BaseAddress}health did not answer 200 within 30 s: {last}");
    }

    private static async Task<string> LogInAliceAsync(HttpClient http, ActivityTraceId trace, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = AliceEmail, ["password"] = AlicePassword }),
        };
        request.Headers.Add("traceparent", Traceparent(trace));
        using var response = await http.SendAsync(request, cancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /token: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("access_token").GetString()!;
    }

    /// <summary>Sends one message to chat 1 as Alice, waits for its echo, and closes the socket, which ends the request's span.</summary>
    private static async Task SendAsync(Uri api, string pathAndQuery, ActivityTraceId trace, string text)
    {
        var uri = new Uri(new UriBuilder(api) { Scheme = "ws", Path = "" }.Uri, pathAndQuery);
        await using var ws = await WsClient.ConnectAsync(uri, options => options.SetRequestHeader("traceparent", Traceparent(trace)));
        var clientMessageId = Guid.NewGuid().ToString("N");
        await ws.SendMessageAsync(AliceAndBenChatId, text, clientMessageId);
        var echo = await ws.ExpectAsync("NEW_MESSAGE", TimeSpan.FromSeconds(30));
        Assert.Equal(AliceAndBenChatId, echo.GetProperty("chat_id").GetInt64());
        Assert.Equal(AliceId, echo.GetProperty("sender_id").GetInt64());
        Assert.Equal(text, echo.GetProperty("text").GetString());
        Assert.Equal(clientMessageId, echo.GetProperty("client_message_id").GetString());
        await ws.CloseAsync();
    }

    /// <summary>
    /// The trace of the one message sent on the socket whose request ran in <paramref name="socketTrace"/>. A
    /// SEND_MESSAGE frame starts a trace of its own (the socket's span lasts as long as the connection), linked to
    /// the socket's span; the dashboard lists that link among the socket span's backlinks, and follows it. Checks
    /// the send's span on the way: WinDi.Api's "message send", a Server span, chat 1, Created, linked back.
    /// </summary>
    private static async Task<ActivityTraceId> FindSendTraceAsync(DashboardPage dashboard, ActivityTraceId socketTrace)
    {
        var page = dashboard.Page;
        await page.GotoAsync("/traces");
        var socket = TraceRow(dashboard, socketTrace);
        await Expect(socket).ToBeVisibleAsync(new() { Timeout = (float)TelemetryWithin.TotalMilliseconds });
        await Expect(socket).ToContainTextAsync("api: GET /ws");
        await socket.ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"/traces/detail/{socketTrace}$"));
        await Span(dashboard, "GET /ws/").ClickAsync();
        var backlink = page.Locator("tr:has(.spanlink-text[title$=': message send'])");
        await Expect(backlink).ToHaveCountAsync(1, new() { Timeout = (float)TelemetryWithin.TotalMilliseconds });
        await backlink.Locator(".button-hyperlink").ClickAsync();

        // The link leads to the send's trace, with its span selected once the page has caught up (or not, when
        // rendering is slow: a click then would toggle it). That trace's page is opened afresh and the span clicked.
        var sendPage = new Regex($"/traces/detail/(?<trace>(?!{socketTrace})[0-9a-f]{{32}})");
        await Expect(page).ToHaveURLAsync(sendPage, new() { Timeout = (float)TelemetryWithin.TotalMilliseconds });
        var sendTrace = ActivityTraceId.CreateFromString(sendPage.Match(page.Url).Groups["trace"].Value);
        await page.GotoAsync($"/traces/detail/{sendTrace}");
        await Span(dashboard, "message send").ClickAsync();
        await Expect(dashboard.Property("Name")).ToHaveTextAsync("message send");
        await Expect(dashboard.Property("Source")).ToHaveTextAsync("WinDi.Api");
        await Expect(dashboard.Property("Kind")).ToHaveTextAsync("Server");
        await Expect(dashboard.Property("windi.chat_id")).ToHaveTextAsync(AliceAndBenChatId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(dashboard.Property("windi.send_status")).ToHaveTextAsync("Created");
        await Expect(page.Locator(".spanlink-text[title*=': GET /ws/']")).ToBeVisibleAsync();
        await Expect(dashboard.Property("TraceId")).ToHaveTextAsync(sendTrace.ToString());
        return sendTrace;
    }

    private static ILocator TraceRow(DashboardPage dashboard, ActivityTraceId trace) =>
        dashboard.Page.Locator($"td[title*='Trace Id: {trace}']");

    /// <summary>A W3C traceparent whose parent span never reaches the dashboard: the API's spans join this trace.</summary>
    private static string Traceparent(ActivityTraceId trace) => $"00-{trace}-{ActivitySpanId.CreateRandom()}-01";

    private static List<(string What, string Value)> Secrets(string token, string messageText, params (string, string)[] more) =>
    [
        ("the access token", token),
        ("the access token's signature", token.Split('.')[2]),
        ("Alice's password", AlicePassword),
        ("Alice's password, form-encoded", Uri.EscapeDataString(AlicePassword)),
        ("the message text", messageText),
        .. more,
    ];

    /// <summary>
    /// Looks for the secrets in the text and markup of the Traces page, of each span of the given traces with its
    /// details open, of the Structured logs page, and of each log entry of those traces with its details open
    /// (attributes and scopes included). Each trace comes with the number of log entries it has at least; the page
    /// is left on the last trace's last entry.
    /// </summary>
    private static async Task AssertNoSecretOnTracesAndLogsAsync(
        DashboardPage dashboard, IReadOnlyList<(ActivityTraceId Trace, int LogEntries)> traces, List<(string What, string Value)> secrets)
    {
        var page = dashboard.Page;
        await page.GotoAsync("/traces");
        foreach (var (trace, _) in traces)
        {
            await Expect(TraceRow(dashboard, trace)).ToBeVisibleAsync(new() { Timeout = (float)TelemetryWithin.TotalMilliseconds });
        }
        await AssertNoSecretAsync(dashboard, "the Traces page", secrets);

        foreach (var (trace, _) in traces)
        {
            await page.GotoAsync($"/traces/detail/{trace}");
            var spans = page.Locator(".span-name-container");
            await Expect(spans.First).ToBeVisibleAsync(new() { Timeout = (float)TelemetryWithin.TotalMilliseconds });
            var count = await spans.CountAsync();
            for (var i = 0; i < count; i++)
            {
                await spans.Nth(i).ClickAsync();
                await Expect(page.Locator("tr.selected-row .span-name-container")).ToHaveTextAsync(await spans.Nth(i).InnerTextAsync());
                await AssertNoSecretAsync(dashboard, $"span '{await spans.Nth(i).InnerTextAsync()}' of trace {trace}", secrets);
            }
        }

        // The list renders the rows in view only: a window tall enough for all of them (a hundred or so here).
        await page.GotoAsync("/structuredlogs");
        await Expect(page.GetByText(new Regex($@"Connection \S+ of user {AliceId} closed")).First).ToBeVisibleAsync(new() { Timeout = (float)TelemetryWithin.TotalMilliseconds });
        var viewport = page.ViewportSize!;
        await page.SetViewportSizeAsync(viewport.Width, Math.Min(400 + 50 * await LogCountAsync(page), 32_000));
        var total = await WaitForAllLogEntriesAsync(page, traces.Sum(t => t.LogEntries));
        await AssertNoSecretAsync(dashboard, $"the Structured logs page ({total} entries)", secrets);
        await page.SetViewportSizeAsync(viewport.Width, viewport.Height);

        // The entries of the test's own traces one by one, details open: attributes and log scopes included.
        var messages = new List<string>();
        foreach (var (trace, entries) in traces)
        {
            await page.GotoAsync($"/structuredlogs?traceId={trace}");
            var count = await WaitForAllLogEntriesAsync(page, entries);
            for (var i = 0; i < count; i++)
            {
                var entry = LogEntries(page).Nth(i); // counted before any details open: their property grids are rows too
                // The resource cell: with details open the grid drops its middle columns, and the last one is a menu.
                await entry.Locator("td[col-index='1']").ClickAsync();
                await Expect(entry).ToHaveClassAsync(new Regex("selected-row"));
                var message = await dashboard.Property("Message").InnerTextAsync();
                messages.Add(message);
                await AssertNoSecretAsync(dashboard, $"log entry '{message}' of trace {trace}", secrets);
            }
        }
        // The socket's own entries were among them.
        Assert.Contains(messages, m => Regex.IsMatch(m, $@"^Connection \S+ opened for user {AliceId}$"));
        Assert.Contains(messages, m => Regex.IsMatch(m, $@"^Connection \S+ of user {AliceId} closed$"));
    }

    /// <summary>The Structured logs grid's entries (the empty list has one row too, a single cell saying so).</summary>
    private static ILocator LogEntries(IPage page) => page.Locator("tr.fluent-data-grid-row:has(td[col-index='2'])");

    /// <summary>"Showing N structured logs".</summary>
    private static async Task<int> LogCountAsync(IPage page) =>
        int.Parse(Regex.Match(await page.Locator(".result-count").InnerTextAsync(), @"\d+").Value, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Waits until the footer counts at least <paramref name="atLeast"/> entries and the grid renders them all
    /// (the page fills in after it loads).
    /// </summary>
    private static async Task<int> WaitForAllLogEntriesAsync(IPage page, int atLeast)
    {
        var (rendered, total) = (-1, 0);
        for (var deadline = Stopwatch.StartNew(); deadline.Elapsed < TimeSpan.FromSeconds(20); await Task.Delay(250))
        {
            total = await LogCountAsync(page);
            rendered = await LogEntries(page).CountAsync();
            if (total >= atLeast && rendered >= total)
            {
                return total;
            }
        }
        throw new TimeoutException($"The Structured logs page ({page.Url}) renders {rendered} of its {total} entries; expected at least {atLeast}.");
    }

    private static async Task AssertNoSecretAsync(DashboardPage dashboard, string where, List<(string What, string Value)> secrets)
    {
        var shown = await dashboard.TextAndMarkupAsync();
        foreach (var (what, value) in secrets)
        {
            Assert.False(shown.Contains(value, StringComparison.Ordinal), $"The dashboard shows {what} on {where}.");
        }
    }

    private static ILocator Span(DashboardPage dashboard, string name) =>
        dashboard.Page.Locator(".span-name-container").Filter(new() { HasTextRegex = new Regex($"^{Regex.Escape(name)}") });

    /// <summary>
    /// The Resources page, full length, attached to the test result; with WINDI_DASHBOARD_SCREENSHOT set (a path,
    /// relative to the repository), also written there: that is how docs/dashboard.png is made.
    /// </summary>
    private static async Task SaveResourcesScreenshotAsync(DashboardPage dashboard)
    {
        var png = await dashboard.Page.ScreenshotAsync(new() { FullPage = true });
        TestContext.Current.AddAttachment("dashboard-resources.png", png, "image/png");
        if (Environment.GetEnvironmentVariable("WINDI_DASHBOARD_SCREENSHOT") is { Length: > 0 } path)
        {
            await File.WriteAllBytesAsync(Path.Combine(DashboardAppHost.RepositoryRoot, path), png);
        }
    }

    private static async Task AttachScreenshotAsync(DashboardPage dashboard, string name) =>
        TestContext.Current.AddAttachment($"{name}.png", await dashboard.Page.ScreenshotAsync(new() { FullPage = true }), "image/png");

    private async Task AttachFailureEvidenceAsync(DashboardPage dashboard)
    {
        TestContext.Current.AddAttachment("apphost-output.txt", apphost.Output);
        try
        {
            await AttachScreenshotAsync(dashboard, "dashboard-at-failure");
        }
        catch (PlaywrightException)
        {
            // The page is gone; the output above says why.
        }
    }
}
