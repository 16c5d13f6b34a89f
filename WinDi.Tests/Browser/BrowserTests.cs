using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace WinDi.Tests.Browser;

/// <summary>The web client in wwwroot/, driven in Chromium against the real API on Kestrel.</summary>
public sealed class BrowserTests(SharedApp shared, Chromium chromium, PostgresServer postgres) : IClassFixture<SharedApp>, IClassFixture<Chromium>
{
    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task TheWebClientIsServedAtTheRootFromThisOriginOnly()
    {
        using var http = app.Anonymous();

        var page = await http.GetAsync("/");
        var script = await http.GetAsync("/js/main.js");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<script type=\"module\" src=\"js/main.js\">", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        var unknown = await http.GetAsync("/no-such-page");
        await unknown.AssertProblemAsync(HttpStatusCode.NotFound);
    }

    /// <summary>Not only the page: every script, style, image and error a browser may load carries the rules.</summary>
    [Theory]
    [InlineData("/")]
    [InlineData("/js/main.js")]
    [InlineData("/app.css")]
    [InlineData("/favicon.svg")]
    [InlineData("/chats")]
    [InlineData("/no-such-page")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/scalar")]
    public async Task EveryResponseForbidsFramingAndSniffing(string path)
    {
        using var http = app.Anonymous();

        using var response = await http.GetAsync(path);

        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoPeopleChatInPrivateAndSeeTheirMessagesGoFromSentToRead()
    {
        var ann = await app.RegisterAsync("Ann Porter");
        var ben = await app.RegisterAsync("Ben Okafor");
        await using var annBrowser = await BrowserSession.OpenAsync(chromium, app);
        await using var benBrowser = await BrowserSession.OpenAsync(chromium, app);
        await annBrowser.LogInAsync(ann);
        await benBrowser.LogInAsync(ben);

        await annBrowser.StartPrivateChatAsync(ben);
        await annBrowser.SendAsync("Hi Ben! Did the build pass?");

        // Stored and echoed, but Ben has not opened the chat: one tick.
        await Expect(annBrowser.Ticks("Did the build pass?")).ToHaveTextAsync("✓");
        var benChat = benBrowser.ChatItem(ann.Name);
        await Expect(benChat.Locator(".badge")).ToHaveTextAsync("1");
        await Expect(benChat).ToContainTextAsync("Hi Ben! Did the build pass?");

        await benChat.ClickAsync();
        await Expect(benBrowser.Message("Did the build pass?")).ToBeVisibleAsync();
        await Expect(annBrowser.Ticks("Did the build pass?")).ToHaveTextAsync("✓✓");
        await Expect(benChat.Locator(".badge")).ToBeHiddenAsync();

        await benBrowser.SendAsync("It did, all green.");
        await Expect(annBrowser.Message("all green")).ToBeVisibleAsync();
        // Ann has the chat open, so she reads the answer as it arrives.
        await Expect(benBrowser.Ticks("all green")).ToHaveTextAsync("✓✓");
        await annBrowser.SendAsync("Great, shipping it.\nThanks!");
        await Expect(annBrowser.Ticks("shipping it")).ToHaveTextAsync("✓✓");

        await Expect(annBrowser.MessageTexts).ToHaveTextAsync(["Hi Ben! Did the build pass?", "It did, all green.", "Great, shipping it.\nThanks!"]);
        await Expect(benBrowser.MessageTexts).ToHaveTextAsync(["Hi Ben! Did the build pass?", "It did, all green.", "Great, shipping it.\nThanks!"]);
        var chatId = (await ann.GetJsonAsync("/chats")).EnumerateArray().Single().Id();
        var history = (await ben.GetJsonAsync($"/history/{chatId}")).EnumerateArray().ToList();
        Assert.Equal(3, history.Count);
        Assert.All(history, message => Assert.True(message.GetProperty("is_read").GetBoolean()));
        await annBrowser.SaveScreenshotAsync("private-chat-read-receipts");
        annBrowser.AssertNoPageErrors();
        benBrowser.AssertNoPageErrors();
    }

    [Fact]
    public async Task MessagesTypedFasterThanTheSendLimitAreDeliveredAsTheBudgetRefills()
    {
        await using var limited = new WinDiApp(postgres, new Dictionary<string, string?> { ["Limits:SendPerSecond"] = "2", ["Limits:SendBurst"] = "2" });
        var ann = await limited.RegisterAsync("Ann Quick");
        var ben = await limited.RegisterAsync("Ben Patient");
        var chatId = await ann.StartPrivateChatAsync(ben);
        await using var annBrowser = await BrowserSession.OpenAsync(chromium, limited);
        await annBrowser.LogInAsync(ann);
        await annBrowser.ChatItem(ben.Name).ClickAsync();

        var texts = Enumerable.Range(1, 6).Select(i => $"quick note {i}").ToArray();
        foreach (var text in texts)
        {
            await annBrowser.SendAsync(text);
        }

        // The server refuses what exceeds the budget (rate_limited); the page keeps those pending and sends them again.
        foreach (var text in texts)
        {
            await Expect(annBrowser.Ticks(text)).ToHaveTextAsync("✓", new() { Timeout = 15_000 });
        }
        var stored = (await ben.GetJsonAsync($"/history/{chatId}")).EnumerateArray().Select(m => m.GetProperty("text").GetString()).ToList();
        Assert.Equal(texts.Order(), stored.Order());
        annBrowser.AssertNoPageErrors();
    }

    [Fact]
    public async Task APageThatLostItsConnectionCatchesUpWithSyncAndSendsWhatWasWrittenOfflineWhenItReturns()
    {
        var ann = await app.RegisterAsync("Ann Lindqvist");
        var ben = await app.RegisterAsync("Ben Marsh");
        var chatId = await ann.StartPrivateChatAsync(ben);
        var before = await ben.SendAsync(chatId, "Before the tunnel");
        var network = new WebSocketSwitch();
        await using var annBrowser = await BrowserSession.OpenAsync(chromium, app, beforeLoad: network.InstallAsync);
        await annBrowser.LogInAsync(ann);
        await annBrowser.ChatItem(ben.Name).ClickAsync();
        await Expect(annBrowser.Message("Before the tunnel")).ToBeVisibleAsync();

        await network.GoOfflineAsync();
        await Expect(annBrowser.ConnectionStatus).ToHaveAttributeAsync("data-state", "offline");
        await annBrowser.SendAsync("Written in the tunnel");
        await ben.SendAsync(chatId, "Missed one");
        await ben.SendAsync(chatId, "Missed two");

        // Offline: Ann's message waits as pending, and Ben's have not arrived.
        await Expect(annBrowser.Ticks("Written in the tunnel")).ToHaveAttributeAsync("data-state", "pending");
        await Expect(annBrowser.Message("Missed one")).ToHaveCountAsync(0);
        var framesBeforeReturn = network.FromPage.Count;
        network.GoOnline();

        await Expect(annBrowser.ConnectionStatus).ToHaveAttributeAsync("data-state", "online", new() { Timeout = 40_000 });
        await Expect(annBrowser.MessageTexts).ToHaveTextAsync(["Before the tunnel", "Missed one", "Missed two", "Written in the tunnel"]);
        await Expect(annBrowser.Ticks("Written in the tunnel")).ToHaveTextAsync("✓");
        await Expect(annBrowser.ChatItem(ben.Name).Locator(".badge")).ToBeHiddenAsync();
        // It was a new connection that asked for everything after the last message it had seen...
        Assert.True(network.ServerConnections >= 2, $"{network.ServerConnections} connections");
        var sentAfterReturn = network.FromPage.Skip(framesBeforeReturn).Select(frame => JsonDocument.Parse(frame).RootElement).ToList();
        var sync = sentAfterReturn.First(frame => frame.GetProperty("command").GetString() == "SYNC");
        // (By seq, the place of the last change it had seen: SYNC {after_seq} brings new messages, edits and deletes.)
        Assert.Equal(before.Seq(), sync.GetProperty("payload").GetProperty("after_seq").GetInt64());
        // ...and Ann's message reached Ben exactly once.
        var history = (await ben.GetJsonAsync($"/history/{chatId}")).EnumerateArray().Select(m => m.GetProperty("text").GetString()).ToList();
        Assert.Equal(["Before the tunnel", "Missed one", "Missed two", "Written in the tunnel"], history);
        await annBrowser.SaveScreenshotAsync("caught-up-after-reconnect");
        annBrowser.AssertNoPageErrors();
    }

    [Fact]
    public async Task ANewcomerLoggingInAsTheSeedUserAliceSeesHerThreeChats()
    {
        // A database of its own: opening a chat marks messages read, which must not leak into other tests.
        var database = await postgres.CreateDatabaseAsync("browser_seed");
        await PostgresServer.MigrateAsync(database, seed: true);
        await using var seeded = new WinDiApp(postgres, new Dictionary<string, string?> { ["ConnectionStrings:windi"] = database });
        var alice = new TestUser(1, "Alice Wright", "alice.wright87@example.com", "Zx7!pTn9vR", "", seeded.Anonymous(), seeded);
        await using var browser = await BrowserSession.OpenAsync(chromium, seeded);

        await browser.LogInAsync(alice);

        await Expect(browser.Page.Locator(".chat-item .chat-name")).ToHaveTextAsync(["WinDi Team", "Carla James", "Ben Stevens"]);
        await browser.ChatItem("WinDi Team").ClickAsync();
        await Expect(browser.ConversationTitle).ToHaveTextAsync("WinDi Team");
        await Expect(browser.Page.Locator("#conversation-subtitle")).ToHaveTextAsync("Group · 3 members");
        await Expect(browser.Page.Locator("#message-list .sender").First).ToBeVisibleAsync();
        await Expect(browser.ChatItem("WinDi Team").Locator(".badge")).ToBeHiddenAsync();
        browser.AssertNoPageErrors();
    }

    [Fact]
    public async Task ScrollingUpLoadsOlderPagesInOrderAndKeepsTheReaderInPlace()
    {
        var ann = await app.RegisterAsync("Ann Reader");
        var ben = await app.RegisterAsync("Ben Writer");
        var chatId = await ann.StartPrivateChatAsync(ben);
        await using (var ws = await ben.ConnectAsync())
        {
            for (var i = 1; i <= 120; i++)
            {
                await ws.SendMessageAsync(chatId, $"Line {i:000}");
                await ws.ExpectAsync("NEW_MESSAGE");
            }
        }
        await using var browser = await BrowserSession.OpenAsync(chromium, app);
        await browser.LogInAsync(ann);
        await browser.ChatItem(ben.Name).ClickAsync();
        await Expect(browser.Message("Line 120")).ToBeInViewportAsync();

        var scroller = browser.Page.Locator("#message-scroller");
        for (var loaded = 100; loaded <= 120; loaded += 20)
        {
            // Scrolled to the top, the page asks for the page before its oldest message, and the message
            // that was at the top stays where it was.
            var oldest = await browser.MessageTexts.First.TextContentAsync();
            await scroller.EvaluateAsync("element => element.scrollTop = 0");
            await Expect(browser.MessageTexts).ToHaveCountAsync(Math.Min(loaded, 120));
            await Expect(browser.Message(oldest!)).ToBeInViewportAsync();
        }
        await Expect(browser.Page.Locator("#history-status")).ToHaveTextAsync("This is the beginning of the conversation.");
        var texts = await browser.MessageTexts.AllTextContentsAsync();
        Assert.Equal(Enumerable.Range(1, 120).Select(i => $"Line {i:000}"), texts);
        browser.AssertNoPageErrors();
    }

    [Fact]
    public async Task AGroupMadeInThePageGetsAMemberWhoSeesWhoWroteWhatAndCanLeave()
    {
        var ann = await app.RegisterAsync("Ann Group");
        var ben = await app.RegisterAsync("Ben Group");
        await using var annBrowser = await BrowserSession.OpenAsync(chromium, app);
        await using var benBrowser = await BrowserSession.OpenAsync(chromium, app);
        await annBrowser.LogInAsync(ann);
        await benBrowser.LogInAsync(ben);
        var groupName = $"Release crew {Guid.NewGuid():N}"[..20];

        await annBrowser.Page.GetByRole(AriaRole.Button, new() { Name = "New group" }).ClickAsync();
        await annBrowser.Page.GetByLabel("Group name").FillAsync(groupName);
        await annBrowser.Page.GetByLabel("Group name").PressAsync("Enter");
        await Expect(annBrowser.ConversationTitle).ToHaveTextAsync(groupName);
        await annBrowser.Page.GetByRole(AriaRole.Button, new() { Name = "Add member" }).ClickAsync();
        await annBrowser.Page.Locator("#add-member-dialog").GetByLabel("Find people by name or email").FillAsync(ben.Email);
        await annBrowser.Page.Locator("#add-member-results button", new() { HasText = ben.Email }).ClickAsync();
        await Expect(annBrowser.Page.Locator("#conversation-subtitle")).ToHaveTextAsync("Group · 2 members");
        await annBrowser.SendAsync("Welcome to the crew");

        var benGroup = benBrowser.ChatItem(groupName);
        await Expect(benGroup.Locator(".badge")).ToHaveTextAsync("1");
        await benGroup.ClickAsync();
        await Expect(benBrowser.Message("Welcome to the crew").Locator(".sender")).ToHaveTextAsync(ann.Name);
        await Expect(annBrowser.Ticks("Welcome to the crew")).ToHaveTextAsync("✓✓");

        await benBrowser.Page.GetByRole(AriaRole.Button, new() { Name = "Leave" }).ClickAsync();
        await benBrowser.Page.Locator("#leave-dialog").GetByRole(AriaRole.Button, new() { Name = "Leave" }).ClickAsync();
        await Expect(benGroup).ToHaveCountAsync(0);
        await Expect(benBrowser.Page.Locator("#conversation-placeholder")).ToBeVisibleAsync();
        annBrowser.AssertNoPageErrors();
        benBrowser.AssertNoPageErrors();
    }

    [Fact]
    public async Task StartingAChatThatAlreadyExistsOpensTheExistingOne()
    {
        var ann = await app.RegisterAsync("Ann Again");
        var ben = await app.RegisterAsync("Ben Again");
        var chatId = await ben.StartPrivateChatAsync(ann);
        await ben.SendAsync(chatId, "I started this one");
        await using var browser = await BrowserSession.OpenAsync(chromium, app);
        await browser.LogInAsync(ann);

        await browser.StartPrivateChatAsync(ben);

        await Expect(browser.Message("I started this one")).ToBeVisibleAsync();
        await Expect(browser.Page).ToHaveURLAsync(new Regex($"#/chats/{chatId}$"));
        await Expect(browser.Page.Locator(".chat-item")).ToHaveCountAsync(1);
        browser.AssertNoPageErrors();
    }

    [Fact]
    public async Task AWrongPasswordShowsTheServersReasonAndAnEscapedNameStaysText()
    {
        var ann = await app.RegisterAsync("<img src=x onerror=alert(1)> Ann");
        await using var browser = await BrowserSession.OpenAsync(chromium, app);
        await browser.Page.GotoAsync("/");
        var form = browser.Page.Locator("#login-form");

        await form.GetByLabel("Email").FillAsync(ann.Email);
        await form.GetByLabel("Password").FillAsync("not the password");
        await form.GetByLabel("Password").PressAsync("Enter");

        await Expect(browser.Page.Locator("#login-error")).ToHaveTextAsync("Incorrect email or password.");
        await browser.LogInAsync(ann);
        await Expect(browser.Page.Locator("#me-name img")).ToHaveCountAsync(0);
        browser.AssertNoPageErrors();
    }

    [Fact]
    public async Task OnAPhoneTheListAndTheConversationTakeTurns()
    {
        var ann = await app.RegisterAsync("Ann Mobile");
        var ben = await app.RegisterAsync("Ben Mobile");
        var chatId = await ben.StartPrivateChatAsync(ann);
        await ben.SendAsync(chatId, "Are you on your phone?");
        await using var browser = await BrowserSession.OpenAsync(chromium, app, width: 390, height: 780);
        await browser.LogInAsync(ann);
        var list = browser.Page.Locator("#chat-list");
        var composer = browser.Page.GetByLabel("Message", new() { Exact = true });

        await browser.ChatItem(ben.Name).ClickAsync();
        await Expect(composer).ToBeVisibleAsync();
        await Expect(list).ToBeHiddenAsync();
        await browser.SendAsync("Yes, and it fits.");
        await Expect(browser.Ticks("it fits")).ToHaveTextAsync("✓");
        await browser.SaveScreenshotAsync("phone-conversation");

        await browser.Page.GetByRole(AriaRole.Button, new() { Name = "Back to chats" }).ClickAsync();
        await Expect(list).ToBeVisibleAsync();
        await Expect(composer).ToBeHiddenAsync();
        browser.AssertNoPageErrors();
    }

    /// <summary>Two tabs (or devices) of one person: reading in one clears the badge in the other, without polling.</summary>
    [Fact]
    public async Task ReadingInOneTabClearsTheUnreadBadgeInTheOther()
    {
        var ann = await app.RegisterAsync("Ann Twotabs");
        var ben = await app.RegisterAsync("Ben Twotabs");
        var chatId = await ann.StartPrivateChatAsync(ben);
        await using var firstTab = await BrowserSession.OpenAsync(chromium, app);
        await using var secondTab = await BrowserSession.OpenAsync(chromium, app);
        await firstTab.LogInAsync(ben);
        await secondTab.LogInAsync(ben);

        await ann.SendAsync(chatId, "Read me once, see it everywhere");
        await Expect(firstTab.ChatItem(ann.Name).Locator(".badge")).ToHaveTextAsync("1");
        await Expect(secondTab.ChatItem(ann.Name).Locator(".badge")).ToHaveTextAsync("1");

        await firstTab.ChatItem(ann.Name).ClickAsync();
        await Expect(firstTab.Message("see it everywhere")).ToBeVisibleAsync();

        // Well within the 30-second refresh: the READ_MESSAGE event reaches the reader's other connections.
        await Expect(secondTab.ChatItem(ann.Name).Locator(".badge")).ToBeHiddenAsync();
        firstTab.AssertNoPageErrors();
        secondTab.AssertNoPageErrors();
    }

    /// <summary>
    /// Live frames can leave a gap (here Redis is down, so replica B never hears of a message); a later live
    /// frame must not move the page's SYNC cursor past it. Coming back to the tab fills the gap.
    /// </summary>
    [Fact]
    public async Task AMessageMissedWhileRedisWasDownAppearsInTheOpenChatOnTheOtherReplica()
    {
        await using var redis = await RedisServer.StartPrivateAsync();
        var (a, b) = await TwoReplicas.StartAsync(postgres, redis.ConnectionString);
        await using var replicaA = a;
        await using var replicaB = b;
        var ann = await a.RegisterAsync("Ann Relay");
        var ben = (await a.RegisterAsync("Ben Relay")).On(b);
        var chatId = await ann.StartPrivateChatAsync(ben);
        await ann.SendAsync(chatId, "before the outage");
        await using var annBrowser = await BrowserSession.OpenAsync(chromium, a);
        await using var benBrowser = await BrowserSession.OpenAsync(chromium, b);
        await annBrowser.LogInAsync(ann);
        await benBrowser.LogInAsync(ben);
        await annBrowser.ChatItem(ben.Name).ClickAsync();
        await benBrowser.ChatItem(ann.Name).ClickAsync();
        await Expect(benBrowser.Message("before the outage")).ToBeVisibleAsync();

        await redis.StopAsync();
        await annBrowser.SendAsync("during the outage");
        await Expect(annBrowser.Ticks("during the outage")).ToHaveTextAsync("✓");
        await redis.StartAsync();
        var crossed = "";
        for (var attempt = 0; attempt < 30 && crossed == ""; attempt++)
        {
            var text = $"after the outage {attempt}";
            await annBrowser.SendAsync(text);
            try
            {
                await Expect(benBrowser.Message(text)).ToBeVisibleAsync(new() { Timeout = 1000 });
                crossed = text;
            }
            catch (PlaywrightException)
            {
            }
        }
        Assert.NotEqual("", crossed);
        await Expect(benBrowser.Message("during the outage")).ToHaveCountAsync(0);

        await benBrowser.Page.EvaluateAsync("window.dispatchEvent(new Event('focus'))");

        await Expect(benBrowser.Message("during the outage")).ToBeVisibleAsync();
        var texts = await benBrowser.MessageTexts.AllInnerTextsAsync();
        Assert.Equal(["before the outage", "during the outage"], texts.Take(2));
        Assert.Equal(crossed, texts[^1]);
        benBrowser.AssertNoPageErrors();
    }
}
