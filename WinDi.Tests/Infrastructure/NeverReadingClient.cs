using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace WinDi.Tests.Infrastructure;

/// <summary>
/// A WebSocket client with a tiny receive buffer that never reads: the server's sends to it back up, and it
/// never answers the server's pings (it only answers them while reading), like a half-open connection.
/// </summary>
public sealed class NeverReadingClient : IAsyncDisposable
{
    private readonly ClientWebSocket socket;
    private readonly HttpMessageInvoker invoker;

    private NeverReadingClient(ClientWebSocket socket, HttpMessageInvoker invoker) => (this.socket, this.invoker) = (socket, invoker);

    public WebSocketState State => socket.State;

    /// <summary>
    /// A fixed, small socket send buffer on the server (accepted sockets inherit it from the listener) stands in
    /// for a slow network: a reader who stops reading backs up after dozens of frames, and the kernel cannot
    /// absorb megabytes on the server's behalf.
    /// </summary>
    public static void SmallServerSendBuffer(IServiceCollection services) =>
        services.Configure<SocketTransportOptions>(transport => transport.CreateBoundListenSocket = endpoint =>
        {
            var listener = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
            listener.SendBufferSize = 8 * 1024;
            return listener;
        });

    public static async Task<NeverReadingClient> ConnectAsync(WinDiApp app, string token)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var tcp = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await tcp.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(tcp, ownsSocket: true);
            },
        };
        var invoker = new HttpMessageInvoker(handler);
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero; // no pings of its own either
        await socket.ConnectAsync(app.WebSocketUri($"/ws/{token}"), invoker, CancellationToken.None);
        return new NeverReadingClient(socket, invoker);
    }

    /// <summary>Sends one frame; sending is all this client does.</summary>
    public Task SendAsync(string command, object payload) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { command, payload })), WebSocketMessageType.Text, true, CancellationToken.None);

    public ValueTask DisposeAsync()
    {
        socket.Abort();
        socket.Dispose();
        invoker.Dispose();
        return ValueTask.CompletedTask;
    }
}
