using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;

namespace WinDi.Tests.Infrastructure;

/// <summary>
/// A real ClientWebSocket. A background loop reads every frame into a queue, so a test can wait for a
/// frame with a timeout without cancelling a receive (which would abort the socket).
/// </summary>
public sealed class WsClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket socket;
    private readonly Channel<JsonElement> frames = Channel.CreateUnbounded<JsonElement>();
    private readonly Task pump;

    private WsClient(ClientWebSocket socket)
    {
        this.socket = socket;
        pump = Task.Run(PumpAsync);
    }

    public WebSocketCloseStatus? CloseStatus => socket.CloseStatus;
    public WebSocketState State => socket.State;
    public Task Closed => pump;

    public static Task<WsClient> ConnectAsync(WinDiApp app, string token, bool viaQuery = false) =>
        ConnectAsync(app.WebSocketUri(viaQuery ? $"/ws?access_token={Uri.EscapeDataString(token)}" : $"/ws/{token}"));

    public static async Task<WsClient> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null, HttpMessageInvoker? invoker = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(DefaultWait);
        await socket.ConnectAsync(uri, invoker, timeout.Token);
        return new WsClient(socket);
    }

    public Task SendAsync(string command, object? payload = null) =>
        SendRawAsync(JsonSerializer.Serialize(payload is null ? new { command } : (object)new { command, payload }));

    public Task SendMessageAsync(long chatId, string text, string? clientMessageId = null) =>
        SendAsync("SEND_MESSAGE", new { chat_id = chatId, text, client_message_id = clientMessageId ?? Guid.NewGuid().ToString("N") });

    /// <summary>Sends a message and returns its echo (the next frame must be it).</summary>
    public async Task<JsonElement> SendAndEchoAsync(long chatId, string text, string? clientMessageId = null)
    {
        await SendMessageAsync(chatId, text, clientMessageId);
        return await ExpectAsync("NEW_MESSAGE");
    }

    public Task EditMessageAsync(long id, string text) => SendAsync("EDIT_MESSAGE", new { id, text });

    public Task DeleteMessageAsync(long id) => SendAsync("DELETE_MESSAGE", new { id });

    public async Task SendRawAsync(string text)
    {
        using var timeout = new CancellationTokenSource(DefaultWait);
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
    }

    public async Task SendBytesAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(DefaultWait);
        await socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
    }

    /// <summary>The next frame; fails the test if none comes in time.</summary>
    public async Task<JsonElement> ReceiveAsync(TimeSpan? wait = null)
    {
        using var timeout = new CancellationTokenSource(wait ?? DefaultWait);
        try
        {
            return await frames.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No frame within {wait ?? DefaultWait}.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The socket closed ({socket.CloseStatus}) before another frame came.");
        }
    }

    /// <summary>The next frame, which must carry <paramref name="command"/>.</summary>
    public async Task<JsonElement> ExpectAsync(string command, TimeSpan? wait = null)
    {
        var frame = await ReceiveAsync(wait);
        Assert.True(frame.GetProperty("command").GetString() == command, $"Expected {command}, got {frame}");
        return frame;
    }

    public async Task<JsonElement> ExpectErrorAsync(string code)
    {
        var frame = await ExpectAsync("ERROR");
        Assert.Equal(code, frame.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(frame.GetProperty("detail").GetString()));
        return frame;
    }

    /// <summary>
    /// Proves that nothing is pending: a PING is answered by the very next frame, PONG. Frames are
    /// delivered in order, so anything queued for this connection before the PING would come first.
    /// </summary>
    public async Task ExpectNothingPendingAsync(TimeSpan? settle = null)
    {
        await Task.Delay(settle ?? TimeSpan.FromMilliseconds(300));
        await SendAsync("PING");
        await ExpectAsync("PONG");
    }

    /// <summary>Sends SYNC and collects the NEW_MESSAGE frames up to SYNC_DONE.</summary>
    public async Task<(List<JsonElement> Messages, JsonElement Done)> SyncAsync(long afterId, int? limit = null)
    {
        await SendAsync("SYNC", limit is null ? new { after_id = afterId } : new { after_id = afterId, limit });
        var messages = new List<JsonElement>();
        while (true)
        {
            var frame = await ReceiveAsync();
            switch (frame.GetProperty("command").GetString())
            {
                case "NEW_MESSAGE": messages.Add(frame); break;
                case "SYNC_DONE": return (messages, frame);
                default: throw new InvalidOperationException($"Unexpected frame during SYNC: {frame}");
            }
        }
    }

    /// <summary>Sends SYNC {after_seq} and collects the change frames (NEW_MESSAGE, MESSAGE_EDITED, MESSAGE_DELETED) up to SYNC_DONE.</summary>
    public async Task<(List<JsonElement> Changes, JsonElement Done)> SyncChangesAsync(long afterSeq, int? limit = null)
    {
        await SendAsync("SYNC", limit is null ? new { after_seq = afterSeq } : new { after_seq = afterSeq, limit });
        var changes = new List<JsonElement>();
        while (true)
        {
            var frame = await ReceiveAsync();
            switch (frame.GetProperty("command").GetString())
            {
                case "NEW_MESSAGE" or "MESSAGE_EDITED" or "MESSAGE_DELETED": changes.Add(frame); break;
                case "SYNC_DONE": return (changes, frame);
                default: throw new InvalidOperationException($"Unexpected frame during SYNC: {frame}");
            }
        }
    }

    public async Task CloseAsync()
    {
        if (socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(DefaultWait);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
        }
        await pump;
    }

    private async Task PumpAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var message = new MemoryStream();
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                frames.Writer.TryWrite(JsonDocument.Parse(message.ToArray()).RootElement.Clone());
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Aborted by the server, the network or DisposeAsync; CloseStatus stays null.
        }
        finally
        {
            frames.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        socket.Abort();
        await pump;
        socket.Dispose();
    }
}
