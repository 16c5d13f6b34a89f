using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace WinDi.Tests.Browser;

/// <summary>The web client's sessions: refreshing tokens without logging anyone out, signing out other devices, logging out.</summary>
public sealed class SessionBrowserTests(Chromium chromium, PostgresServer postgres) : IClassFixture<Chromium>
{
    /// <summary>
    /// Access tokens of 6 seconds (Jwt__AccessTokenMinutes accepts fractions). The server closes a socket when its
    /// token expires, so a page that did not refresh and reconnect in time would drop to the login page after 6 s.
    /// The first refreshes fail as if the network were down: a failed refresh is tried again, never a logout.
    /// </summary>
    [Fact]
    public async Task ThePageKeepsWorkingPastItsAccessTokensExpiryAndRefreshesWithoutEverLoggingOut()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Jwt:AccessTokenMinutes"] = "0.1" });
        var ann = await app.RegisterAsync("Ann Longlived");
        var ben = await app.RegisterAsync("Ben Longlived");
        var chatId = await ann.StartPrivateChatAsync(ben);
        // Ben writes through a socket that outlives the short tokens (a token without a session, as the tests mint them).
        await using var benSocket = await WsClient.ConnectAsync(app, Jwt.Sign(ben.Id, DateTime.UtcNow.AddMinutes(5), WinDiApp.JwtSecret));
        var refreshesRefused = 0;
        await using var annBrowser = await BrowserSession.OpenAsync(chromium, app, beforeLoad: context =>
            context.RouteAsync("**/token", async route =>
            {
                if (route.Request.PostData?.Contains("grant_type=refresh_token", StringComparison.Ordinal) == true && Interlocked.Increment(ref refreshesRefused) <= 2)
                {
                    await route.AbortAsync("internetdisconnected");
                    return;
                }
                await route.ContinueAsync();
            }));
        await annBrowser.LogInAsync(ann);
        await annBrowser.ChatItem(ben.Name).ClickAsync();
        var firstToken = await AccessTokenAsync(annBrowser);

        for (var round = 1; round <= 4; round++)
        {
            await Task.Delay(TimeSpan.FromSeconds(5));
            var text = $"still here after {round * 5} s";
            await benSocket.SendMessageAsync(chatId, text);
            await Expect(annBrowser.Message(text)).ToBeVisibleAsync();
        }

        await annBrowser.SendAsync("and I can still write");
        await Expect(annBrowser.Ticks("and I can still write")).ToHaveTextAsync("✓");
        await Expect(annBrowser.ConnectionStatus).ToHaveAttributeAsync("data-state", "online");
        await Expect(annBrowser.Page.Locator("#auth-view")).ToBeHiddenAsync();
        Assert.True(refreshesRefused > 2, $"Only {refreshesRefused} refreshes were asked for in 20 s of 6-second tokens.");
        Assert.NotEqual(firstToken, await AccessTokenAsync(annBrowser));
        Assert.InRange(await postgres.ScalarAsync<int>("SELECT generation FROM sessions WHERE id = $1", SessionOf(await AccessTokenAsync(annBrowser))), 2, 20);

        // A token the server refuses (401) is refreshed and the call made again, without a logout.
        await annBrowser.Page.EvaluateAsync("sessionStorage.setItem('windi.token', 'not-a-token')");
        await annBrowser.Page.GetByRole(AriaRole.Button, new() { Name = "Devices", Exact = true }).ClickAsync();
        await Expect(annBrowser.Page.Locator("#device-list .device", new() { HasTextRegex = new Regex("This device") })).ToHaveCountAsync(1);
        await Expect(annBrowser.Page.Locator("#auth-view")).ToBeHiddenAsync();
        annBrowser.AssertNoPageErrors();
    }

    /// <summary>One person in two browsers, each on its own replica: the first signs the second out.</summary>
    [Fact]
    public async Task SigningOutOtherDevicesLogsTheOtherPageOutWithinSecondsAndKeepsThisOne()
    {
        await using var redis = await RedisServer.StartPrivateAsync();
        var (a, b) = await TwoReplicas.StartAsync(postgres, redis.ConnectionString);
        await using var replicaA = a;
        await using var replicaB = b;
        var ann = await a.RegisterAsync("Ann Twodevices");
        var ben = await a.RegisterAsync("Ben Twodevices");
        var chatId = await ann.StartPrivateChatAsync(ben);
        await using var laptop = await BrowserSession.OpenAsync(chromium, a);
        await using var phone = await BrowserSession.OpenAsync(chromium, b);
        await laptop.LogInAsync(ann);
        await phone.LogInAsync(ann);

        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "Devices", Exact = true }).ClickAsync();
        var devices = laptop.Page.Locator("#device-list .device");
        await Expect(devices).ToHaveCountAsync(3); // the two pages and RegisterAsync's own login
        await Expect(devices.Filter(new() { HasText = "This device" })).ToHaveCountAsync(1);
        await laptop.SaveScreenshotAsync("devices-dialog");
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out other devices" }).ClickAsync();

        await Expect(devices).ToHaveCountAsync(1);
        await Expect(phone.Page.Locator("#auth-view")).ToBeVisibleAsync(new() { Timeout = 10_000 });
        await Expect(phone.Page.Locator("#login-error")).ToContainTextAsync("session has ended");
        Assert.Equal(0, await phone.Page.EvaluateAsync<int>("sessionStorage.length"));
        await laptop.Page.Keyboard.PressAsync("Escape");
        await laptop.ChatItem(ben.Name).ClickAsync();
        await laptop.SendAsync("only the laptop is signed in now");
        await Expect(laptop.Ticks("only the laptop is signed in now")).ToHaveTextAsync("✓");
        await Expect(laptop.ConnectionStatus).ToHaveAttributeAsync("data-state", "online");
        Assert.Single((await ben.GetJsonAsync($"/history/{chatId}")).EnumerateArray());
        laptop.AssertNoPageErrors();
        phone.AssertNoPageErrors();
    }

    [Fact]
    public async Task LoggingOutEndsTheSessionOnTheServerNotOnlyInThePage()
    {
        await using var app = new WinDiApp(postgres);
        var ann = await app.RegisterAsync("Ann Leaving");
        await using var browser = await BrowserSession.OpenAsync(chromium, app);
        await browser.LogInAsync(ann);
        var access = await AccessTokenAsync(browser);
        var refresh = await browser.Page.EvaluateAsync<string>("sessionStorage.getItem('windi.refresh')");

        await browser.Page.GetByRole(AriaRole.Button, new() { Name = "Log out" }).ClickAsync();

        await Expect(browser.Page.Locator("#auth-view")).ToBeVisibleAsync();
        using var stale = app.Authorized(access);
        await (await stale.GetAsync("/users/me")).AssertProblemAsync(HttpStatusCode.Unauthorized);
        var refused = await (await app.RefreshAsync(refresh)).AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal("invalid_grant", refused.GetProperty("error").GetString());
        Assert.Equal(0, await browser.Page.EvaluateAsync<int>("sessionStorage.length"));
        browser.AssertNoPageErrors();
    }

    private static Task<string> AccessTokenAsync(BrowserSession browser) => browser.Page.EvaluateAsync<string>("sessionStorage.getItem('windi.token')");

    private static Guid SessionOf(string accessToken) => new Tokens(accessToken, "", 0, 0).SessionId;
}
