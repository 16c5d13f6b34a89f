using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;

namespace WinDi.Api.Realtime;

/// <summary>
/// One WebSocket: a receive loop that handles the client's frames in order, and a send loop that drains
/// a queue bounded in bytes. Live events and answers are queued without waiting; a connection whose
/// pending output would pass the bound is aborted (it catches up with SYNC when it reconnects), so one
/// slow or dead reader never delays anyone else, and no command makes the server hold more for it.
/// </summary>
public sealed partial class ClientConnection : IAsyncDisposable
{
    // Set when the upgrade completes (RunAsync). The connection is registered before that, so that no event
    // committed while the handshake finishes is missed; until then its events wait in the queue.
    private WebSocket? socket;
    // Bounded in bytes below, not in items. A bounded channel's queue starts empty and grows on demand, where an
    // unbounded one holds a 32-entry segment (2 KB) from the start: most of what an idle connection would hold.
    private readonly Channel<Outbound> outbound = Channel.CreateBounded<Outbound>(new BoundedChannelOptions(int.MaxValue) { SingleReader = true });
    private readonly CommandBudget commands;
    private readonly int maxFrameBytes;
    private readonly long maxPendingBytes;
    private long pendingBytes;
    private readonly ILogger logger;
    private const int Open = 0, Overflowed = 1, Closed = 2;
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    // Never disposed: a delivery from another connection's send may still cancel it after this
    // connection ends. It holds no timer beyond the close handshake's few seconds.
    private readonly CancellationTokenSource closing = new();
    private int state = Open;

    /// <param name="sessionId">The session of the token it was opened with (null for a token without one); it closes when that session ends.</param>
    public ClientConnection(long userId, Guid? sessionId, LimitsOptions limits, ILogger logger)
    {
        this.logger = logger;
        UserId = userId;
        SessionId = sessionId;
        maxFrameBytes = limits.MaxFrameBytes;
        maxPendingBytes = limits.ConnectionQueueBytes;
        commands = new CommandBudget(limits.SendPerSecond, limits.SendBurst);
    }

    public Guid Id { get; } = Guid.NewGuid();
    public long UserId { get; }
    public Guid? SessionId { get; }

    /// <summary>Neither closing nor closed.</summary>
    public bool IsOpen => Volatile.Read(ref state) == Open;

    /// <summary>
    /// Queues a live event and never throws: it runs on the sender's path. Output past the byte bound aborts
    /// this connection; a connection that is already closing just drops the frame.
    /// </summary>
    public void Enqueue(ReadOnlyMemory<byte> frame)
    {
        if (TryQueue(new Outbound(frame)))
        {
            Telemetry.FramesDelivered.Add(1);
        }
    }

    /// <summary>Queues an answer to this client's own frame, under the same byte bound as live events.</summary>
    public void Reply(ReadOnlyMemory<byte> frame) => TryQueue(new Outbound(frame));

    /// <summary>Queues several answers as one entry (a SYNC page), so that they go out together and in order.</summary>
    public void Reply(IReadOnlyList<ReadOnlyMemory<byte>> frames) => TryQueue(new Outbound(default, frames));

    /// <summary>Takes one unit of this connection's command budget; false when the client must slow down.</summary>
    public bool TryTakeCommandPermit() => commands.TryTake();

    private bool TryQueue(Outbound item)
    {
        if (Interlocked.Add(ref pendingBytes, item.Bytes) > maxPendingBytes)
        {
            Overflow();
            return false;
        }
        if (outbound.Writer.TryWrite(item))
        {
            return true;
        }
        Interlocked.Add(ref pendingBytes, -item.Bytes); // closing: the frame is dropped
        return false;
    }

    /// <summary>The client is not reading what it is sent: the connection ends at once, its queue with it.</summary>
    private void Overflow()
    {
        if (Interlocked.CompareExchange(ref state, Overflowed, Open) == Open)
        {
            Log.QueueOverflow(logger, Id, UserId, maxPendingBytes);
            Telemetry.ConnectionsOverflowed.Add(1);
            outbound.Writer.TryComplete();
            Volatile.Read(ref socket)?.Abort();
            closing.Cancel();
        }
    }

    /// <summary>Runs on the accepted socket until the client closes, the connection fails, or <paramref name="ct"/> fires (token expiry, shutdown).</summary>
    /// <param name="transport">The stream under <paramref name="webSocket"/> when it batches writes (see <see cref="BatchingStream"/>); null writes each frame alone.</param>
    public async Task RunAsync(WebSocket webSocket, BatchingStream? transport, Func<ClientConnection, ReadOnlyMemory<byte>, CancellationToken, Task> handleFrame, CancellationToken ct)
    {
        Volatile.Write(ref socket, webSocket);
        if (Volatile.Read(ref state) == Overflowed)
        {
            webSocket.Abort();
            return;
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, closing.Token);
        var sending = SendLoopAsync(webSocket, transport);
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

    /// <summary>
    /// Sends what is queued, in order. Everything queued by the time the loop looks goes out as one batch (one write to
    /// the connection) when the transport batches; a frame is then only copied into the batch, so it is sent without a
    /// cancellation token, and the batch's write is what waits for the client and what closing cancels.
    /// </summary>
    private async Task SendLoopAsync(WebSocket socket, BatchingStream? transport)
    {
        var reader = outbound.Reader;
        try
        {
            while (await reader.WaitToReadAsync(closing.Token))
            {
                transport?.BeginBatch();
                while (reader.TryRead(out var item))
                {
                    if (item.Close is var (status, description))
                    {
                        if (transport is not null)
                        {
                            await transport.EndBatchAsync(closing.Token);
                        }
                        await socket.CloseOutputAsync(status, description, closing.Token);
                        return;
                    }
                    if (item.Frames is { } frames)
                    {
                        foreach (var frame in frames)
                        {
                            await SendAsync(socket, transport, frame);
                        }
                    }
                    else
                    {
                        await SendAsync(socket, transport, item.Frame);
                    }
                    Interlocked.Add(ref pendingBytes, -item.Bytes);
                }
                if (transport is not null)
                {
                    await transport.EndBatchAsync(closing.Token);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException or IOException)
        {
            // The connection is gone; end the receive loop too.
            closing.Cancel();
        }
    }

    private async ValueTask SendAsync(WebSocket socket, BatchingStream? transport, ReadOnlyMemory<byte> frame)
    {
        if (transport is null)
        {
            await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, closing.Token);
            return;
        }
        await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        if (transport.IsBatchFull)
        {
            await transport.EndBatchAsync(closing.Token);
            transport.BeginBatch();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.CompareExchange(ref state, Closed, Open);
        outbound.Writer.TryComplete();
        await closing.CancelAsync();
    }

    private readonly record struct Outbound(
        ReadOnlyMemory<byte> Frame,
        IReadOnlyList<ReadOnlyMemory<byte>>? Frames = null,
        (WebSocketCloseStatus Status, string Description)? Close = null)
    {
        // What an entry costs beyond its bytes (the entry, the queue's slot, the frame's array header), so that
        // a flood of tiny frames (PONGs) is bounded too.
        private const int EntryOverhead = 64;

        public long Bytes { get; } = EntryOverhead + Frame.Length + (Frames?.Sum(f => (long)f.Length + EntryOverhead) ?? 0);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId} of user {UserId} closed: more than {QueueBytes} bytes waited for it (slow or dead client)")]
        public static partial void QueueOverflow(ILogger logger, Guid connectionId, long userId, long queueBytes);

        [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} failed: {ErrorCode}")]
        public static partial void ConnectionFailed(ILogger logger, Guid connectionId, WebSocketError errorCode);
    }
}
