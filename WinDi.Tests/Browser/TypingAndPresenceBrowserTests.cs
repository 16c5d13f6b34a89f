using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace WinDi.Tests.Browser;

/// <summary>The web client shows who is typing (TYPING) and who is online or when they were last seen (GET /chats/{id}).</summary>
public sealed class TypingAndPresenceBrowserTests(SharedApp shared, Chromium chromium) : IClassFixture<SharedApp>, IClassFixture<Chromium>
{
    // The open chat's presence is asked for every 20 s, and someone is offline within 5 s of closing their last socket.
    private static readonly LocatorAssertionsToHaveTextOptions WithinAPresenceRound = new() { Timeout = 40_000 };

    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task OneSeesTheOtherTypingAndOnlineThenLastSeenAfterTheyCloseTheirPage()
    {
        var ann = await app.RegisterAsync("Ann Watcher");
        var ben = await app.RegisterAsync("Ben Typer");
        await ann.StartPrivateChatAsync(ben);
        await using var annBrowser = await BrowserSession.OpenAsync(chromium, app);
        await using var benBrowser = await BrowserSession.OpenAsync(chromium, app);
        await benBrowser.LogInAsync(ben);
        await annBrowser.LogInAsync(ann);
        await annBrowser.ChatItem(ben.Name).ClickAsync();
        await benBrowser.ChatItem(ann.Name).ClickAsync();
        var subtitle = annBrowser.Page.Locator("#conversation-subtitle");
        var typing = annBrowser.Page.Locator("#typing-indicator");

        await Expect(subtitle).ToHaveTextAsync("online");
        await Expect(annBrowser.Page.Locator("#history-status")).ToHaveTextAsync("No messages yet. Say hello!");
        await Expect(annBrowser.Page.Locator("#conversation-avatar")).ToHaveClassAsync(new Regex(@"\bonline\b"));
        await Expect(annBrowser.ChatItem(ben.Name).Locator(".avatar")).ToHaveClassAsync(new Regex(@"\bonline\b"));

        // Typing shows in the conversation and in the chat list, and ends with the message it was.
        await benBrowser.Page.GetByLabel("Message", new() { Exact = true }).FillAsync("Just a sec");
        await Expect(typing).ToHaveTextAsync("Ben is typing…");
        await Expect(subtitle).ToBeHiddenAsync();
        await Expect(annBrowser.ChatItem(ben.Name).Locator(".chat-preview")).ToHaveTextAsync("Ben is typing…");
        await annBrowser.SaveScreenshotAsync("ben-is-typing");
        await benBrowser.SendAsync("Just a sec, checking the logs");
        await Expect(annBrowser.Message("checking the logs")).ToBeVisibleAsync();
        await Expect(typing).ToBeHiddenAsync(new() { Timeout = 1_500 });
        await Expect(subtitle).ToHaveTextAsync("online");

        // Typing that is not repeated shows for 5 seconds.
        await Task.Delay(TimeSpan.FromSeconds(2.2)); // past the server's window, so that this TYPING goes out
        await benBrowser.Page.GetByLabel("Message", new() { Exact = true }).FillAsync("Another");
        await Expect(typing).ToHaveTextAsync("Ben is typing…");
        await Expect(typing).ToBeHiddenAsync(new() { Timeout = 8_000 });

        await benBrowser.Context.CloseAsync();

        await Expect(subtitle).ToHaveTextAsync("last seen just now", WithinAPresenceRound);
        await Expect(annBrowser.Page.Locator("#conversation-avatar")).Not.ToHaveClassAsync(new Regex(@"\bonline\b"));
        await Expect(annBrowser.ChatItem(ben.Name).Locator(".avatar")).Not.ToHaveClassAsync(new Regex(@"\bonline\b"));
        annBrowser.AssertNoPageErrors();
    }

    [Fact]
    public async Task AGroupShowsWhichMembersAreOnlineAndNamesEveryoneTyping()
    {
        var ann = await app.RegisterAsync("Ann Lead");
        var ben = await app.RegisterAsync("Ben Second");
        var cat = await app.RegisterAsync("Cat Third");
        var dan = await app.RegisterAsync("Dan Away");
        var groupName = $"Standup {Guid.NewGuid():N}"[..16];
        await ann.CreateGroupAsync(groupName, ben, cat, dan);
        await using var annBrowser = await BrowserSession.OpenAsync(chromium, app);
        await using var benBrowser = await BrowserSession.OpenAsync(chromium, app);
        await using var catBrowser = await BrowserSession.OpenAsync(chromium, app);
        await benBrowser.LogInAsync(ben);
        await catBrowser.LogInAsync(cat);
        await annBrowser.LogInAsync(ann);
        await annBrowser.ChatItem(groupName).ClickAsync();
        await benBrowser.ChatItem(groupName).ClickAsync();
        await catBrowser.ChatItem(groupName).ClickAsync();
        var members = annBrowser.Page.Locator("#conversation-members .member");

        await Expect(members).ToHaveTextAsync([new Regex("^Ben Second"), new Regex("^Cat Third"), new Regex("^Dan Away")]);
        await Expect(annBrowser.Page.Locator("#conversation-members .member[data-online='true']")).ToHaveCountAsync(2);
        await Expect(members.Last).ToHaveAttributeAsync("data-online", "false");

        await benBrowser.Page.GetByLabel("Message", new() { Exact = true }).FillAsync("I think");
        await Expect(annBrowser.Page.Locator("#typing-indicator")).ToHaveTextAsync("Ben is typing…");
        await catBrowser.Page.GetByLabel("Message", new() { Exact = true }).FillAsync("Same here");

        await Expect(annBrowser.Page.Locator("#typing-indicator")).ToHaveTextAsync("Ben and Cat are typing…");
        await Expect(annBrowser.ChatItem(groupName).Locator(".chat-preview")).ToHaveTextAsync("Ben and Cat are typing…");
        // Nobody sees their own typing.
        await Expect(benBrowser.Page.Locator("#typing-indicator")).ToHaveTextAsync("Cat is typing…");
        await annBrowser.SaveScreenshotAsync("two-are-typing");
        annBrowser.AssertNoPageErrors();
        benBrowser.AssertNoPageErrors();
        catBrowser.AssertNoPageErrors();
    }
}
