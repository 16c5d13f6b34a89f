using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using System.Threading.RateLimiting;

namespace WinDi.Api.Realtime;

/// <summary>
/// One WebSocket: a receive loop that handles the client's frames in order, and a send loop that drains
/// a bounded queue. Live events are queued without waiting; a connection whose queue is full is aborted
/// (it catches up with SYNC when it reconnects), so one slow reader never delays anyone else.
/// </summary>
public sealed partial class ClientConnection : IAsyncDisposable
{
    // Set when the upgrade completes (RunAsync). The connection is registered before that, so that no event
    // committed while the handshake finishes is missed; until then its events wait in the queue.
    private WebSocket? socket;
    private readonly Channel<Outbound> outbound;
    private readonly TokenBucketRateLimiter sendLimiter;
    private readonly int maxFrameBytes;
    private readonly ILogger logger;
    private const int Open = 0, Overflowed = 1, Closed = 2;
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    // Never disposed: a delivery from another connection's send may still cancel it after this
    // connection ends. It holds no timer beyond the close handshake's few seconds.
    private readonly CancellationTokenSource closing = new();
    private int state = Open;

    public ClientConnection(long userId, LimitsOptions limits, ILogger logger)
    {
        this.logger = logger;
        UserId = userId;
        maxFrameBytes = limits.MaxFrameBytes;
        outbound = Channel.CreateBounded<Outbound>(new BoundedChannelOptions(limits.ConnectionQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        sendLimiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = limits.SendBurst,
            TokensPerPeriod = limits.SendPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    public Guid Id { get; } = Guid.NewGuid();
    public long UserId { get; }

    /// <summary>
    /// Queues a live event and never throws: it runs on the sender's path. A full queue aborts this
    /// connection; a connection that is already closing just drops the frame.
    /// </summary>
    public void Enqueue(ReadOnlyMemory<byte> frame)
    {
        if (outbound.Writer.TryWrite(new Outbound(frame)))
        {
            Telemetry.FramesDelivered.Add(1);
            return;
        }
        if (Interlocked.CompareExchange(ref state, Overflowed, Open) == Open)
        {
            Log.QueueOverflow(logger, Id, UserId);
            Telemetry.ConnectionsOverflowed.Add(1);
            outbound.Writer.TryComplete();
            Volatile.Read(ref socket)?.Abort();
            closing.Cancel();
        }
    }

    /// <summary>Queues an answer to this client's own frame, waiting for room: the client is waiting for it.</summary>
    public ValueTask ReplyAsync(ReadOnlyMemory<byte> frame, CancellationToken ct) => WriteAsync(new Outbound(frame), ct);

    /// <summary>Queues several answers as one queue entry (SYNC), so a large catch-up cannot overflow the queue.</summary>
    public ValueTask ReplyAsync(IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct) => WriteAsync(new Outbound(default, frames), ct);

    public bool TryAcquireSendPermit()
    {
        using var lease = sendLimiter.AttemptAcquire();
        return lease.IsAcquired;
    }

    /// <summary>Runs on the accepted socket until the client closes, the connection fails, or <paramref name="ct"/> fires (token expiry, shutdown).</summary>
    public async Task RunAsync(WebSocket webSocket, Func<ClientConnection, ReadOnlyMemory<byte>, CancellationToken, Task> handleFrame, CancellationToken ct)
    {
        Volatile.Write(ref socket, webSocket);
        if (Volatile.Read(ref state) == Overflowed)
        {
            webSocket.Abort();
            return;
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, closing.Token);
        var sending = SendLoopAsync(webSocket);
        try
        {
            await ReceiveLoopAsync(webSocket, handleFrame, linked.Token);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
        }
        catch (WebSocketException e)
        {
            Log.ConnectionFailed(logger, Id, e.WebSocketErrorCode);
        }
        outbound.Writer.TryComplete();
        await sending;
    }

    /// <summary>
    /// Asks the send loop to close the socket after what is already queued. The receive loop then waits
    /// for the client's close reply, a few seconds at most: ending sooner would reset the connection and
    /// could discard the close frame before the client reads it.
    /// </summary>
    public void Close(WebSocketCloseStatus status, string description)
    {
        Interlocked.CompareExchange(ref state, Closed, Open);
        if (outbound.Writer.TryWrite(new Outbound(default, Close: (status, description))))
        {
            outbound.Writer.TryComplete();
            closing.CancelAfter(CloseHandshakeTimeout);
        }
        else if (Volatile.Read(ref socket) is { State: not (WebSocketState.CloseSent or WebSocketState.Closed) } open)
        {
            open.Abort();
        }
    }

    private async Task ReceiveLoopAsync(WebSocket socket, Func<ClientConnection, ReadOnlyMemory<byte>, CancellationToken, Task> handleFrame, CancellationToken ct)
    {
        while (socket.State == WebSocketState.Open)
        {
            // Wait for the next frame with a zero-byte read, as SignalR does: an idle connection holds no buffer.
            var next = await socket.ReceiveAsync(Memory<byte>.Empty, ct);
            if (next.MessageType != WebSocketMessageType.Close)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(maxFrameBytes + 1);
                try
                {
                    if (!await ReceiveFrameAsync(socket, buffer, next, handleFrame, ct))
                    {
                        return;
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            else if (socket.State == WebSocketState.CloseReceived)
            {
                Close(WebSocketCloseStatus.NormalClosure, "Bye");
                return;
            }
        }
    }

    /// <summary>
    /// Reads and handles one frame; false when the connection is closing. <paramref name="waited"/> is the zero-byte
    /// read that waited for it: when that one ended the message, the frame is empty, and it is handled (answered) too.
    /// </summary>
    private async Task<bool> ReceiveFrameAsync(WebSocket socket, byte[] buffer, ValueWebSocketReceiveResult waited,
        Func<ClientConnection, ReadOnlyMemory<byte>, CancellationToken, Task> handleFrame, CancellationToken ct)
    {
        var length = 0;
        var result = waited;
        while (!result.EndOfMessage && length <= maxFrameBytes && result.MessageType != WebSocketMessageType.Close)
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(length, maxFrameBytes + 1 - length), ct);
            length += result.Count;
        }

        if (result.MessageType == WebSocketMessageType.Close)
        {
            if (socket.State == WebSocketState.CloseReceived)
            {
                Close(WebSocketCloseStatus.NormalClosure, "Bye");
            }
            return false;
        }
        if (length > maxFrameBytes)
        {
            Close(WebSocketCloseStatus.MessageTooBig, $"Frames are limited to {maxFrameBytes} bytes.");
        }
        if (Volatile.Read(ref state) != Open)
        {
            // Closing (token expired, frame too big, overflow): nothing more is handled.
            await DrainUntilClosedAsync(socket, buffer, ct);
            return false;
        }
        await handleFrame(this, buffer.AsMemory(0, length), ct);
        return true;
    }

    /// <summary>
    /// Reads and discards until the client answers our close frame (Close bounds the wait), so that unread
    /// bytes do not make the TCP stack reset the connection before the client reads the close frame.
    /// </summary>
    private static async Task DrainUntilClosedAsync(WebSocket socket, byte[] buffer, CancellationToken ct)
    {
        while ((await socket.ReceiveAsync(buffer.AsMemory(), ct)).MessageType != WebSocketMessageType.Close)
        {
        }
    }

    private async Task SendLoopAsync(WebSocket socket)
    {
        try
        {
            await foreach (var item in outbound.Reader.ReadAllAsync(closing.Token))
            {
                if (item.Close is var (status, description))
                {
                    await socket.CloseOutputAsync(status, description, closing.Token);
                    return;
                }
                if (item.Frames is { } frames)
                {
                    foreach (var frame in frames)
                    {
                        await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, closing.Token);
                    }
                }
                else
                {
                    await socket.SendAsync(item.Frame, WebSocketMessageType.Text, endOfMessage: true, closing.Token);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // The connection is gone; end the receive loop too.
            closing.Cancel();
        }
    }

    private async ValueTask WriteAsync(Outbound item, CancellationToken ct)
    {
        try
        {
            await outbound.Writer.WriteAsync(item, ct);
        }
        catch (ChannelClosedException)
        {
            // Closed or overflowed: nothing more is sent on this connection.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.CompareExchange(ref state, Closed, Open);
        outbound.Writer.TryComplete();
        await closing.CancelAsync();
        await sendLimiter.DisposeAsync();
    }

    private readonly record struct Outbound(
        ReadOnlyMemory<byte> Frame,
        IReadOnlyList<ReadOnlyMemory<byte>>? Frames = null,
        (WebSocketCloseStatus Status, string Description)? Close = null);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId} of user {UserId} closed: its outgoing queue is full (slow or dead client)")]
        public static partial void QueueOverflow(ILogger logger, Guid connectionId, long userId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} failed: {ErrorCode}")]
        public static partial void ConnectionFailed(ILogger logger, Guid connectionId, WebSocketError errorCode);
    }
}
