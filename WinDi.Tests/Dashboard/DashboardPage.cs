using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace WinDi.Tests.Dashboard;

/// <summary>One row of the dashboard's Resources or Parameters grid, as shown.</summary>
public sealed record ResourceRow(string Name, string State, IReadOnlyList<string> Urls)
{
    public override string ToString() => $"{Name}: {(State.Length == 0 ? "(no state)" : State)}";
}

/// <summary>
/// The Aspire dashboard (13.6) in one browser page: a Blazor Server app on Fluent UI, read through what it renders
/// (row and property-grid markup, titles, aria labels). It updates live, so reads that wait poll the page as it is.
/// </summary>
public sealed class DashboardPage
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private DashboardPage(IPage page)
    {
        Page = page;
        // The dashboard's own errors go to the test's output, to tell its failures from the test's.
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"[dashboard console] {message.Text}");
            }
        };
        page.PageError += (_, error) => TestContext.Current.TestOutputHelper?.WriteLine($"[dashboard page error] {error}");
    }

    public static async Task<DashboardPage> OpenAsync(IBrowserContext context) => new(await context.NewPageAsync());

    public IPage Page { get; }

    /// <summary>The rows of the grid on the Resources page (the Resources or the Parameters tab, whichever is shown).</summary>
    public async Task<IReadOnlyList<ResourceRow>> RowsAsync()
    {
        // One read in the page, so that a re-render between two locator calls cannot mix two versions of the grid.
        var json = await Page.Locator("tr.resource-row").EvaluateAllAsync<string>("""
            rows => JSON.stringify(rows.map(row => ({
                name: row.querySelector('.resource-name-text')?.textContent.trim() ?? '',
                state: row.querySelector('.state-column-cell > span')?.textContent.trim() ?? '',
                urls: [...row.querySelectorAll('a[href^="http"]')].map(a => a.getAttribute('href')),
            })))
            """);
        return JsonSerializer.Deserialize<List<ResourceRow>>(json, Json)!;
    }

    /// <summary>
    /// Blazor's "An unhandled error has occurred. Reload" bar: the page's circuit is gone, and the page stays as it
    /// was. Seen here once under heavy load, right after login: an ObjectDisposedException in the dashboard's
    /// virtualized grid (its log: "Unhandled exception in circuit"). A reload starts a new circuit.
    /// </summary>
    public ILocator CircuitFailed => Page.Locator("#blazor-error-ui");

    /// <summary>How often <see cref="WaitForRowsAsync"/> reloaded the page after its circuit failed.</summary>
    public int Reloads { get; private set; }

    /// <summary>Polls the grid until <paramref name="done"/> holds (reloading the page if its circuit fails); fails with the last rows seen.</summary>
    public async Task<IReadOnlyList<ResourceRow>> WaitForRowsAsync(Func<IReadOnlyList<ResourceRow>, bool> done, TimeSpan within, string expected)
    {
        var deadline = Stopwatch.StartNew();
        IReadOnlyList<ResourceRow> rows = [];
        while (deadline.Elapsed < within)
        {
            if (await CircuitFailed.IsVisibleAsync())
            {
                Reloads++;
                TestContext.Current.TestOutputHelper?.WriteLine($"Dashboard: the page's circuit failed ({Page.Url}); reloading it");
                await Page.ReloadAsync();
            }
            rows = await RowsAsync();
            if (done(rows))
            {
                return rows;
            }
            await Task.Delay(1000);
        }
        throw new TimeoutException($"Waited {within.TotalSeconds:0} s for {expected}; the dashboard shows " +
            (rows.Count == 0 ? "no resources." : string.Join(", ", rows)));
    }

    /// <summary>
    /// A property's value in the details panel of a resource, span or log entry (the "Name | Value" grids):
    /// e.g. "Exit code", "Source", "windi.chat_id".
    /// </summary>
    public ILocator Property(string name) =>
        Page.Locator($"tr:has(> td.nameColumn .grid-value[title=\"{name}\"]) > td.valueColumn .grid-value");

    /// <summary>Opens a resource's details (a click on its row, outside the name, which expands children).</summary>
    public async Task OpenDetailsAsync(string resource)
    {
        await Page.Locator("tr.resource-row").Filter(new() { Has = Page.Locator(".resource-name-text", new() { HasTextRegex = new Regex($"^{Regex.Escape(resource)}$") }) })
            .Locator("td[col-index='3']").ClickAsync();
        await Assertions.Expect(Property("Display name")).ToHaveTextAsync(resource);
    }

    /// <summary>Closes the banners at the top (on this machine: "No trusted development certificate").</summary>
    public async Task DismissNotificationsAsync()
    {
        var banners = Page.Locator(".dashboard-message-bar");
        for (var count = await banners.CountAsync(); count > 0; count--)
        {
            await banners.First.Locator(".dashboard-message-bar-dismiss").ClickAsync();
            await Assertions.Expect(banners).ToHaveCountAsync(count - 1);
        }
    }

    /// <summary>What the page shows and holds: its visible text and its markup (attributes and titles included).</summary>
    public async Task<string> TextAndMarkupAsync() =>
        await Page.InnerTextAsync("body") + Environment.NewLine + await Page.ContentAsync();
}
