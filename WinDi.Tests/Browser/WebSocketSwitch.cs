using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace WinDi.Tests.Browser;

/// <summary>
/// Cuts a browser context's WebSocket to /ws and keeps it cut, without anything special in the API or the page.
/// Every /ws WebSocket of the context is routed through Playwright: online, it is connected to the real server
/// and every frame is forwarded (and recorded); <see cref="GoOfflineAsync"/> closes the page's socket (the server
/// side closes with it) and answers each reconnect attempt by closing it at once, so the page really loses its
/// connection, retries with backoff, and on <see cref="GoOnline"/> reconnects to the server and must catch up.
/// (Playwright's SetOfflineAsync is not used: it does not reliably cut WebSockets on loopback.)
/// </summary>
public sealed class WebSocketSwitch
{
    private const int OfflineCloseCode = 4001;
    private readonly Lock gate = new();
    private readonly List<IWebSocketRoute> live = [];
    private volatile bool offline;
    private int serverConnections;

    /// <summary>Text frames the page sent to the server, in order.</summary>
    public ConcurrentQueue<string> FromPage { get; } = new();

    /// <summary>Text frames the server sent to the page, in order.</summary>
    public ConcurrentQueue<string> ToPage { get; } = new();

    /// <summary>How many times the page got through to the server.</summary>
    public int ServerConnections => Volatile.Read(ref serverConnections);

    public Task InstallAsync(IBrowserContext context) =>
        context.RouteWebSocketAsync(url => new Uri(url).AbsolutePath == "/ws", Route);

    private void Route(IWebSocketRoute page)
    {
        if (offline)
        {
            _ = page.CloseAsync(new WebSocketRouteCloseOptions { Code = OfflineCloseCode, Reason = "Offline (test)" });
            return;
        }
        var server = page.ConnectToServer();
        Interlocked.Increment(ref serverConnections);
        page.OnMessage(frame => Forward(frame, FromPage, server));
        server.OnMessage(frame => Forward(frame, ToPage, page));
        lock (gate)
        {
            live.Add(page);
        }
    }

    private static void Forward(IWebSocketFrame frame, ConcurrentQueue<string> record, IWebSocketRoute to)
    {
        if (frame.Text is { } text)
        {
            record.Enqueue(text);
            to.Send(text);
        }
        else if (frame.Binary is { } bytes)
        {
            to.Send(bytes);
        }
    }

    public async Task GoOfflineAsync()
    {
        offline = true;
        IWebSocketRoute[] cut;
        lock (gate)
        {
            cut = [.. live];
            live.Clear();
        }
        foreach (var page in cut)
        {
            await page.CloseAsync(new WebSocketRouteCloseOptions { Code = OfflineCloseCode, Reason = "Offline (test)" });
        }
    }

    public void GoOnline() => offline = false;
}
