using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace WinDi.Tests.Browser;

/// <summary>One person's browser: an isolated context (own storage, own WebSockets) with one page on the web client.</summary>
public sealed class BrowserSession : IAsyncDisposable
{
    private readonly List<string> pageErrors = [];

    private BrowserSession(IBrowserContext context, IPage page)
    {
        Context = context;
        Page = page;
        page.PageError += (_, error) => { lock (pageErrors) pageErrors.Add(error); };
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                TestContext.Current.SendDiagnosticMessage($"[browser console] {message.Text}");
            }
        };
    }

    public IBrowserContext Context { get; }
    public IPage Page { get; }

    public ILocator ConnectionStatus => Page.Locator("#connection-status");
    public ILocator ConversationTitle => Page.Locator("#conversation-title");
    public ILocator MessageTexts => Page.Locator("#message-list li.message .text");

    /// <param name="beforeLoad">runs on the new context before the page loads (e.g. routes)</param>
    public static async Task<BrowserSession> OpenAsync(Chromium chromium, WinDiApp app, int width = 1100, int height = 700,
        Func<IBrowserContext, Task>? beforeLoad = null)
    {
        var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = app.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Locale = "en-GB",
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(20_000);
        if (beforeLoad is not null)
        {
            await beforeLoad(context);
        }
        return new BrowserSession(context, await context.NewPageAsync());
    }

    /// <summary>Logs in through the page's form and waits until the messenger shows this person.</summary>
    public async Task LogInAsync(TestUser user)
    {
        await Page.GotoAsync("/");
        var form = Page.Locator("#login-form");
        await form.GetByLabel("Email").FillAsync(user.Email);
        await form.GetByLabel("Password").FillAsync(user.Password);
        await form.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await Expect(Page.Locator("#me-name")).ToHaveTextAsync(user.Name);
        await Expect(ConnectionStatus).ToHaveAttributeAsync("data-state", "online");
    }

    public ILocator ChatItem(string name) => Page.Locator(".chat-item", new() { HasText = name });

    public ILocator Message(string text) => Page.Locator("#message-list li.message", new() { HasText = text });

    public ILocator Ticks(string text) => Message(text).Locator(".ticks");

    /// <summary>The message with this text, found once by its text and then held by its id (its text is about to change).</summary>
    public async Task<ILocator> MessageByIdAsync(string text) =>
        Page.Locator($"#message-list li.message[data-id='{await Message(text).GetAttributeAsync("data-id")}']");

    /// <summary>Edits one of my messages in place: its Edit button (shown on hover), the new text, Enter.</summary>
    public async Task EditAsync(string text, string newText)
    {
        var message = await MessageByIdAsync(text);
        await message.HoverAsync();
        await message.GetByRole(AriaRole.Button, new() { Name = "Edit message" }).ClickAsync();
        var editor = message.GetByRole(AriaRole.Textbox, new() { Name = "Edit message" });
        await Expect(editor).ToHaveValueAsync(text);
        await editor.FillAsync(newText);
        await editor.PressAsync("Enter");
        await Expect(editor).ToHaveCountAsync(0);
    }

    /// <summary>Deletes one of my messages: its Delete button, then Delete in the dialog that asks.</summary>
    public async Task DeleteAsync(string text)
    {
        var message = await MessageByIdAsync(text);
        await message.HoverAsync();
        await message.GetByRole(AriaRole.Button, new() { Name = "Delete message" }).ClickAsync();
        await Page.Locator("#delete-message-dialog").GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
    }

    /// <summary>Types into the composer and presses Enter.</summary>
    public async Task SendAsync(string text)
    {
        var composer = Page.GetByLabel("Message", new() { Exact = true });
        await composer.FillAsync(text);
        await composer.PressAsync("Enter");
        await Expect(composer).ToHaveValueAsync("");
    }

    /// <summary>Starts (or reopens) the private chat with <paramref name="other"/> by searching for their email.</summary>
    public async Task StartPrivateChatAsync(TestUser other)
    {
        await Page.GetByRole(AriaRole.Button, new() { Name = "New chat" }).ClickAsync();
        await Page.Locator("#new-chat-dialog").GetByLabel("Find people by name or email").FillAsync(other.Email);
        await Page.Locator("#new-chat-results button", new() { HasText = other.Email }).ClickAsync();
        await Expect(ConversationTitle).ToHaveTextAsync(other.Name);
    }

    /// <summary>
    /// Attaches a PNG of the page to the test result: Microsoft.Testing.Platform writes it into the run's results
    /// directory (TestResults/ by default) and lists it at the end of the run.
    /// </summary>
    public async Task SaveScreenshotAsync(string name)
    {
        var png = await Page.ScreenshotAsync();
        TestContext.Current.AddAttachment($"{name}.png", png, "image/png");
    }

    /// <summary>Fails the test if the page threw an uncaught exception.</summary>
    public void AssertNoPageErrors()
    {
        lock (pageErrors)
        {
            Assert.True(pageErrors.Count == 0, "The page threw: " + string.Join(Environment.NewLine, pageErrors));
        }
    }

    public async ValueTask DisposeAsync() => await Context.DisposeAsync();
}
