using Microsoft.Playwright;

namespace WinDi.Tests.Browser;

/// <summary>
/// Debian's Chromium driven by Playwright, headless, one browser per test class (each test opens its own
/// contexts, which share nothing). Playwright never downloads a browser here: it is given the installed one.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException(
                $"The browser tests drive Chromium at {ExecutablePath}, which is not installed. " +
                "Install it (Debian: apt-get install -y chromium). Do not run Playwright's browser install: it downloads browsers and fails here.");
        }
        // Generous but bounded: the machine is shared and has two cores.
        Assertions.SetDefaultExpectTimeout(20_000);
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        playwright?.Dispose();
    }
}
