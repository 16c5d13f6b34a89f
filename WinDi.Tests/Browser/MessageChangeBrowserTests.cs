using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace WinDi.Tests.Browser;

/// <summary>Editing and deleting messages in the web client, live and after a reconnect.</summary>
public sealed class MessageChangeBrowserTests(SharedApp shared, Chromium chromium) : IClassFixture<SharedApp>, IClassFixture<Chromium>
{
    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task SomeoneEditsAndDeletesTheirMessagesAndTheOtherPersonSeesTheEditAndTheMessageGo()
    {
        var ann = await app.RegisterAsync("Ann Editor");
        var ben = await app.RegisterAsync("Ben Reader");
        await ann.StartPrivateChatAsync(ben);
        await using var annBrowser = await BrowserSession.OpenAsync(chromium, app);
        await using var benBrowser = await BrowserSession.OpenAsync(chromium, app);
        await annBrowser.LogInAsync(ann);
        await benBrowser.LogInAsync(ben);
        await annBrowser.ChatItem(ben.Name).ClickAsync();
        await benBrowser.ChatItem(ann.Name).ClickAsync();
        await annBrowser.SendAsync("Lunch at 12?");
        await Expect(benBrowser.Message("Lunch at 12?")).ToBeVisibleAsync();
        await benBrowser.SendAsync("Sure");
        await annBrowser.SendAsync("Wrong chat, sorry");
        await Expect(benBrowser.MessageTexts).ToHaveTextAsync(["Lunch at 12?", "Sure", "Wrong chat, sorry"]);

        // Only your own messages can be changed.
        await annBrowser.Message("Sure").HoverAsync();
        await Expect(annBrowser.Message("Sure").GetByRole(AriaRole.Button, new() { Name = "Edit message" })).ToHaveCountAsync(0);
        // Escape leaves an edit without changing anything.
        var lunch = await annBrowser.MessageByIdAsync("Lunch at 12?");
        await lunch.HoverAsync();
        await lunch.GetByRole(AriaRole.Button, new() { Name = "Edit message" }).ClickAsync();
        await lunch.GetByRole(AriaRole.Textbox, new() { Name = "Edit message" }).PressAsync("Escape");
        await Expect(lunch.Locator(".text")).ToHaveTextAsync("Lunch at 12?");

        await annBrowser.EditAsync("Lunch at 12?", "Lunch at 1?");

        foreach (var browser in new[] { annBrowser, benBrowser })
        {
            await Expect(browser.MessageTexts).ToHaveTextAsync(["Lunch at 1?", "Sure", "Wrong chat, sorry"]);
            await Expect(browser.Message("Lunch at 1?").Locator(".edited")).ToHaveTextAsync("edited");
            await Expect(browser.Message("Sure").Locator(".edited")).ToHaveCountAsync(0);
        }
        await annBrowser.SaveScreenshotAsync("message-edited");

        // Asked first; Cancel keeps it.
        var wrong = await annBrowser.MessageByIdAsync("Wrong chat, sorry");
        await wrong.HoverAsync();
        await wrong.GetByRole(AriaRole.Button, new() { Name = "Delete message" }).ClickAsync();
        await annBrowser.Page.Locator("#delete-message-dialog").GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Expect(annBrowser.Message("Wrong chat, sorry")).ToBeVisibleAsync();
        await annBrowser.DeleteAsync("Wrong chat, sorry");

        foreach (var browser in new[] { annBrowser, benBrowser })
        {
            await Expect(browser.MessageTexts).ToHaveTextAsync(["Lunch at 1?", "Sure"]);
        }
        // The chat list no longer shows it as the last message.
        await Expect(benBrowser.ChatItem(ann.Name).Locator(".chat-preview")).ToHaveTextAsync("You: Sure");
        await Expect(annBrowser.ChatItem(ben.Name).Locator(".chat-preview")).ToHaveTextAsync("Sure");
        annBrowser.AssertNoPageErrors();
        benBrowser.AssertNoPageErrors();
    }

    [Fact]
    public async Task APageThatWasOfflineCatchesUpAnEditAndADeleteWithSyncBySeq()
    {
        var ann = await app.RegisterAsync("Ann Away");
        var ben = await app.RegisterAsync("Ben Busy");
        var chatId = await ann.StartPrivateChatAsync(ben);
        var keep = await ann.SendAsync(chatId, "Keep me");
        var change = await ann.SendAsync(chatId, "Change me");
        var delete = await ann.SendAsync(chatId, "Delete me");
        var network = new WebSocketSwitch();
        await using var benBrowser = await BrowserSession.OpenAsync(chromium, app, beforeLoad: network.InstallAsync);
        await benBrowser.LogInAsync(ben);
        await benBrowser.ChatItem(ann.Name).ClickAsync();
        await Expect(benBrowser.MessageTexts).ToHaveTextAsync(["Keep me", "Change me", "Delete me"]);

        await network.GoOfflineAsync();
        await Expect(benBrowser.ConnectionStatus).ToHaveAttributeAsync("data-state", "offline");
        await using var annWs = await ann.ConnectAsync();
        await annWs.EditMessageAsync(change.Id(), "Changed while you were away");
        await annWs.ExpectAsync("MESSAGE_EDITED");
        await annWs.DeleteMessageAsync(delete.Id());
        await annWs.ExpectAsync("MESSAGE_DELETED");
        var fresh = await annWs.SendAndEchoAsync(chatId, "New while away");
        await annWs.EditMessageAsync(fresh.Id(), "New, then edited");
        await annWs.ExpectAsync("MESSAGE_EDITED");
        // Offline: none of it has reached the page.
        await Expect(benBrowser.MessageTexts).ToHaveTextAsync(["Keep me", "Change me", "Delete me"]);
        var framesBeforeReturn = network.ToPage.Count;
        network.GoOnline();

        await Expect(benBrowser.ConnectionStatus).ToHaveAttributeAsync("data-state", "online", new() { Timeout = 40_000 });
        await Expect(benBrowser.MessageTexts).ToHaveTextAsync(["Keep me", "Changed while you were away", "New, then edited"]);
        await Expect(benBrowser.Message("Changed while you were away").Locator(".edited")).ToBeVisibleAsync();
        await Expect(benBrowser.Message("New, then edited").Locator(".edited")).ToBeVisibleAsync();
        await Expect(benBrowser.Message("Keep me").Locator(".edited")).ToHaveCountAsync(0);
        await Expect(benBrowser.ChatItem(ann.Name).Locator(".chat-preview")).ToHaveTextAsync("New, then edited");
        // It came from SYNC {after_seq}: the latest state of each change, once (the new message as NEW_MESSAGE with its
        // latest text).
        var caughtUp = network.ToPage.Skip(framesBeforeReturn).Select(frame => JsonDocument.Parse(frame).RootElement)
            .Where(frame => frame.Command() is "NEW_MESSAGE" or "MESSAGE_EDITED" or "MESSAGE_DELETED").ToList();
        Assert.Equal([("MESSAGE_EDITED", change.Id()), ("MESSAGE_DELETED", delete.Id()), ("NEW_MESSAGE", fresh.Id())],
            caughtUp.Select(frame => (frame.Command(), frame.Id())));
        Assert.Equal(keep.Id(), (await ben.GetJsonAsync($"/history/{chatId}"))[0].Id());
        await benBrowser.SaveScreenshotAsync("caught-up-edits-and-deletes");
        benBrowser.AssertNoPageErrors();
    }
}
