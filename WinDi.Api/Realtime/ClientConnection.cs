using System.Buffers;
using System.Net.WebSockets;

namespace WinDi.Api.Realtime;

/// <summary>
/// One WebSocket: a receive loop that handles the client's frames in order, and a queue bounded in bytes that a
/// drain on the thread pool sends, in order, whenever it holds something. Live events and answers are queued without waiting; a connection whose
/// pending output would pass the bound is aborted (it catches up with SYNC when it reconnects), so one
/// slow or dead reader never delays anyone else, and no command makes the server hold more for it.
/// </summary>
public sealed partial class ClientConnection : IAsyncDisposable, IThreadPoolWorkItem
{
    // Set when the upgrade completes (RunAsync). The connection is registered before that, so that no event
    // committed while the handshake finishes is missed; until then its events wait in the queue.
    private WebSocket? socket;
    private BatchingStream? transport;
    // What waits to be sent, in order; bounded in bytes (pendingBytes), guarded by itself. A drain (DrainAsync) runs
    // on the thread pool only while it holds something, so an idle connection holds no send loop, no waiting read
    // of a channel and no token registration: 1.1 KB less each than a Channel and a loop waiting on it.
    private readonly Queue<Outbound> outbound = new();
    private bool accepting = true; // false once nothing more may be queued (closing, closed, overflowed)
    private bool draining; // a drain is scheduled or running
    private TaskCompletionSource? drained; // made only when the connection ends while a drain runs
    private readonly CommandBudget commands;
    // The pipelined frames (sends) still being stored, oldest first; touched only by the receive loop.
    private Queue<Task>? sendsInFlight;
    private Task lastSendInFlight = Task.CompletedTask;
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
    /// <param name="tokenExpiresAt">When that token expires (Unix seconds, its <c>exp</c>; long.MaxValue for none): it closes then (<see cref="ExpiredTokenSweep"/>).</param>
    public ClientConnection(long userId, Guid? sessionId, long tokenExpiresAt, LimitsOptions limits, ILogger logger)
    {
        this.logger = logger;
        UserId = userId;
        SessionId = sessionId;
        TokenExpiresAt = tokenExpiresAt;
        maxFrameBytes = limits.MaxFrameBytes;
        maxPendingBytes = limits.ConnectionQueueBytes;
        commands = new CommandBudget(limits.SendPerSecond, limits.SendBurst);
    }

    public Guid Id { get; } = Guid.NewGuid();
    public long UserId { get; }
    public Guid? SessionId { get; }
    public long TokenExpiresAt { get; }

    /// <summary>
    /// How many sends of one connection may be in the writer's queue at once: the connection reads on while they are
    /// stored (so that a burst shares batches), and waits for the oldest beyond this.
    /// </summary>
    public const int MaxSendsInFlight = 16;

    /// <summary>Neither closing nor closed.</summary>
    public bool IsOpen => Volatile.Read(ref state) == Open;

    /// <summary>
    /// Queues a live event and never throws: it runs on the sender's path. Output past the byte bound aborts
    /// this connection; a connection that is already closing just drops the frame. When the frame needs a drain
    /// started, the connection is added to <paramref name="toDrain"/> instead, and the caller calls
    /// <see cref="StartDrain"/> once it has queued the rest of its events: they then leave in one write.
    /// </summary>
    public void Enqueue(ReadOnlyMemory<byte> frame, ref List<ClientConnection>? toDrain)
    {
        if (TryQueue(new Outbound(frame), out var drain))
        {
            Telemetry.FramesDelivered.Add(1);
            if (drain)
            {
                (toDrain ??= []).Add(this);
            }
        }
    }

    /// <summary>Queues an answer to this client's own frame, under the same byte bound as live events.</summary>
    public void Reply(ReadOnlyMemory<byte> frame) => Reply(new Outbound(frame));

    /// <summary>Queues several answers as one entry (a SYNC page), so that they go out together and in order.</summary>
    public void Reply(IReadOnlyList<ReadOnlyMemory<byte>> frames) => Reply(new Outbound(default, frames));

    private void Reply(Outbound item)
    {
        if (TryQueue(item, out var drain) && drain)
        {
            StartDrain();
        }
    }

    /// <summary>Takes one unit of this connection's command budget; false when the client must slow down.</summary>
    public bool TryTakeCommandPermit() => commands.TryTake();

    /// <summary>The last pipelined frame's handling, answers included, which the next one answers after.</summary>
    internal Task LastSendInFlight => lastSendInFlight;

    /// <summary>Waits, when <see cref="MaxSendsInFlight"/> pipelined frames are under way, for the oldest. Called by the receive loop only.</summary>
    internal ValueTask WaitForRoomForSendAsync()
    {
        var queue = sendsInFlight ??= new Queue<Task>();
        while (queue.TryPeek(out var oldest) && oldest.IsCompleted)
        {
            queue.Dequeue();
        }
        return queue.Count >= MaxSendsInFlight ? new ValueTask(queue.Dequeue()) : ValueTask.CompletedTask;
    }

    /// <summary>A pipelined frame is under way; <paramref name="answered"/> completes once it has answered. Called by the receive loop only.</summary>
    internal void AddSendInFlight(Task answered)
    {
        sendsInFlight!.Enqueue(answered);
        lastSendInFlight = answered;
    }

    /// <summary>Waits until every pipelined frame before now is handled and has answered. Called by the receive loop only.</summary>
    internal ValueTask WaitForSendsAsync() => sendsInFlight is { Count: > 0 } ? WaitForEachSendAsync() : ValueTask.CompletedTask;

    private async ValueTask WaitForEachSendAsync()
    {
        while (sendsInFlight!.TryDequeue(out var send))
        {
            await send;
        }
        lastSendInFlight = Task.CompletedTask;
    }

    /// <param name="drain">Whether the caller must start the drain (<see cref="StartDrain"/>).</param>
    private bool TryQueue(Outbound item, out bool drain)
    {
        drain = false;
        if (Interlocked.Add(ref pendingBytes, item.Bytes) > maxPendingBytes)
        {
            Overflow();
            return false;
        }
        if (TryAdd(item, last: false, out drain))
        {
            return true;
        }
        Interlocked.Add(ref pendingBytes, -item.Bytes); // closing: the frame is dropped
        return false;
    }

    /// <summary>
    /// Adds to the queue unless it is complete. When no drain runs and the socket is there, the drain is taken for the
    /// caller (<paramref name="drain"/>), which must then start it (<see cref="StartDrain"/>).
    /// </summary>
    /// <param name="last">Nothing may follow it (the close frame).</param>
    private bool TryAdd(Outbound item, bool last, out bool drain)
    {
        lock (outbound)
        {
            if (!accepting)
            {
                drain = false;
                return false;
            }
            outbound.Enqueue(item);
            accepting = !last;
            drain = !draining && socket is not null;
            draining |= drain;
        }
        return true;
    }

    /// <summary>
    /// Runs the drain that queuing a frame took (<see cref="Enqueue"/> added the connection to its list) on the thread
    /// pool; only then, or two drains would run at once.
    /// </summary>
    internal void StartDrain() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

    /// <summary>The client is not reading what it is sent: the connection ends at once, its queue with it.</summary>
    private void Overflow()
    {
        if (Interlocked.CompareExchange(ref state, Overflowed, Open) == Open)
        {
            Log.QueueOverflow(logger, Id, UserId, maxPendingBytes);
            Telemetry.ConnectionsOverflowed.Add(1);
            lock (outbound)
            {
                accepting = false;
                outbound.Clear();
            }
            Abort();
        }
    }

    /// <summary>
    /// Ends the connection at once: what waits on <see cref="closing"/> stops, and the socket is aborted, which fails its
    /// pending read (the wait for the next frame is not cancellable: a registration on every idle connection would be).
    /// </summary>
    private void Abort()
    {
        closing.Cancel();
        AbortSocket();
    }

    private void AbortSocket() => Volatile.Read(ref socket)?.Abort();

    /// <summary>Runs on the accepted socket until the client closes, the connection fails, or <paramref name="ct"/> fires (token expiry, shutdown).</summary>
    /// <param name="transport">The stream under <paramref name="webSocket"/> when it batches writes (see <see cref="BatchingStream"/>); null writes each frame alone.</param>
    public async Task RunAsync(WebSocket webSocket, BatchingStream? transport, FrameDispatcher frames, CancellationToken ct)
    {
        this.transport = transport;
        // A full fence before reading the state, as Overflow's is before reading the socket: one of them aborts it.
        Interlocked.Exchange(ref socket, webSocket);
        if (Volatile.Read(ref state) == Overflowed)
        {
            webSocket.Abort();
            return;
        }
        StartDrainIfQueued();
        // Shutdown ends the connection as an overflow or a failed send does (Abort).
        using var stopping = ct.UnsafeRegister(static connection => ((ClientConnection)connection!).Abort(), this);
        try
        {
            // The receive loop, here rather than in a method of its own: an idle connection holds one async state
            // less. Each frame is waited for with a zero-byte read, as SignalR does: an idle connection holds no buffer.
            // That wait takes no token, so an idle connection holds no cancellation registration: what ends a connection
            // aborts its socket (Abort, and Close's handshake timeout).
            while (webSocket.State == WebSocketState.Open
                && await HandleNextAsync(webSocket, await webSocket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None), frames, closing.Token))
            {
            }
        }
        catch (OperationCanceledException) when (closing.IsCancellationRequested)
        {
        }
        catch (WebSocketException e)
        {
            Log.ConnectionFailed(logger, Id, e.WebSocketErrorCode);
        }
        // Sends still being stored end (stored or not; closing cancels their wait) before the connection does.
        foreach (var send in sendsInFlight ?? [])
        {
            await send.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await CompleteAsync();
    }

    /// <summary>
    /// Asks the drain to close the socket after what is already queued. The receive loop then waits
    /// for the client's close reply, a few seconds at most: ending sooner would reset the connection and
    /// could discard the close frame before the client reads it.
    /// </summary>
    public void Close(WebSocketCloseStatus status, string description)
    {
        Interlocked.CompareExchange(ref state, Closed, Open);
        if (TryAdd(new Outbound(default, Close: (status, description)), last: true, out var drain))
        {
            if (drain)
            {
                StartDrain();
            }
            closing.Token.UnsafeRegister(static connection => ((ClientConnection)connection!).AbortSocket(), this);
            closing.CancelAfter(CloseHandshakeTimeout);
        }
        else if (Volatile.Read(ref socket) is { State: not (WebSocketState.CloseSent or WebSocketState.Closed) } open)
        {
            open.Abort();
        }
    }

    /// <summary>What the zero-byte read <paramref name="next"/> waited for: a frame, read and handled, or the client's close. False once closing.</summary>
    private async Task<bool> HandleNextAsync(WebSocket socket, ValueWebSocketReceiveResult next, FrameDispatcher frames, CancellationToken ct)
    {
        if (next.MessageType == WebSocketMessageType.Close)
        {
            if (socket.State == WebSocketState.CloseReceived)
            {
                await WaitForSendsAsync(); // their answers go before the close
                Close(WebSocketCloseStatus.NormalClosure, "Bye");
            }
            return false;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(maxFrameBytes + 1);
        try
        {
            return await ReceiveFrameAsync(socket, buffer, next, frames, ct);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads and handles one frame; false when the connection is closing. <paramref name="waited"/> is the zero-byte
    /// read that waited for it: when that one ended the message, the frame is empty, and it is handled (answered) too.
    /// </summary>
    private async Task<bool> ReceiveFrameAsync(WebSocket socket, byte[] buffer, ValueWebSocketReceiveResult waited, FrameDispatcher frames, CancellationToken ct)
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
                await WaitForSendsAsync(); // their answers go before the close
                Close(WebSocketCloseStatus.NormalClosure, "Bye");
            }
            return false;
        }
        if (length > maxFrameBytes)
        {
            await WaitForSendsAsync();
            Close(WebSocketCloseStatus.MessageTooBig, $"Frames are limited to {maxFrameBytes} bytes.");
        }
        if (Volatile.Read(ref state) != Open)
        {
            // Closing (token expired, frame too big, overflow): nothing more is handled.
            await DrainUntilClosedAsync(socket, buffer, ct);
            return false;
        }
        await frames.HandleAsync(this, buffer.AsMemory(0, length), ct);
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

    /// <summary>Starts the drain for what was queued before the socket was there.</summary>
    private void StartDrainIfQueued()
    {
        bool start;
        lock (outbound)
        {
            start = outbound.Count > 0 && !draining;
            draining |= start;
        }
        if (start)
        {
            StartDrain();
        }
    }

    void IThreadPoolWorkItem.Execute() => _ = DrainAsync();

    /// <summary>
    /// Sends what is queued until the queue is empty, then ends; the next frame queued starts another drain. One drain
    /// runs at a time, so frames go out in the order they were queued.
    /// </summary>
    private async Task DrainAsync()
    {
        try
        {
            while (await SendQueuedAsync())
            {
                if (TryEndDrain())
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException or IOException)
        {
            // The connection is gone; end the receive loop too.
            Abort();
        }
        catch (Exception e)
        {
            // Nothing awaits a drain, so what would otherwise go unobserved is logged, and the connection ends.
            Log.SendFailed(logger, e, Id);
            Abort();
        }
        EndDrain(); // the close frame has gone, or sending failed: nothing more goes out
    }

    /// <summary>
    /// Sends what is queued, in order; false once the close frame has gone. Everything queued by the time it looks goes
    /// out as one batch (one write to the connection) when the transport batches; a frame is then only copied into the
    /// batch, so it is sent without a cancellation token, and the batch's write is what waits for the client and what
    /// closing cancels.
    /// </summary>
    private async ValueTask<bool> SendQueuedAsync()
    {
        var webSocket = socket!;
        transport?.BeginBatch();
        while (TryTake(out var item))
        {
            if (item.Close is var (status, description))
            {
                if (transport is not null)
                {
                    await transport.EndBatchAsync(closing.Token);
                }
                await webSocket.CloseOutputAsync(status, description, closing.Token);
                return false;
            }
            if (item.Frames is { } frames)
            {
                foreach (var frame in frames)
                {
                    await SendAsync(webSocket, frame);
                }
            }
            else
            {
                await SendAsync(webSocket, item.Frame);
            }
            Interlocked.Add(ref pendingBytes, -item.Bytes);
        }
        if (transport is not null)
        {
            await transport.EndBatchAsync(closing.Token);
        }
        return true;
    }

    private bool TryTake(out Outbound item)
    {
        lock (outbound)
        {
            return outbound.TryDequeue(out item);
        }
    }

    /// <summary>Ends the drain if nothing more was queued meanwhile; false when there is more to send.</summary>
    private bool TryEndDrain()
    {
        TaskCompletionSource? waiting;
        lock (outbound)
        {
            if (outbound.Count > 0)
            {
                return false;
            }
            draining = false;
            waiting = drained;
        }
        waiting?.TrySetResult();
        return true;
    }

    private void EndDrain()
    {
        TaskCompletionSource? waiting;
        lock (outbound)
        {
            accepting = false;
            outbound.Clear();
            draining = false;
            waiting = drained;
        }
        waiting?.TrySetResult();
    }

    /// <summary>Nothing more is queued; completes once what was queued has gone (or failed to).</summary>
    private Task CompleteAsync()
    {
        lock (outbound)
        {
            accepting = false;
            if (!draining)
            {
                return Task.CompletedTask;
            }
            drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return drained.Task;
        }
    }

    private async ValueTask SendAsync(WebSocket webSocket, ReadOnlyMemory<byte> frame)
    {
        if (transport is null)
        {
            await webSocket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, closing.Token);
            return;
        }
        await webSocket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        if (transport.IsBatchFull)
        {
            await transport.EndBatchAsync(closing.Token);
            transport.BeginBatch();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.CompareExchange(ref state, Closed, Open);
        lock (outbound)
        {
            accepting = false;
        }
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

        [LoggerMessage(Level = LogLevel.Error, Message = "Sending to connection {ConnectionId} failed")]
        public static partial void SendFailed(ILogger logger, Exception exception, Guid connectionId);
    }
}
