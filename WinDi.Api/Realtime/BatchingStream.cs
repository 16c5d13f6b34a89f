using System.Buffers;
using Microsoft.AspNetCore.Http.Features;

namespace WinDi.Api.Realtime;

/// <summary>
/// The upgraded connection's stream, under the WebSocket: a connection's drain writes every frame it has queued
/// as one batch (<see cref="BeginBatch"/> … <see cref="EndBatchAsync"/>), so that a burst of frames costs one write
/// and one flush to Kestrel, and one socket send, instead of one each. Kestrel's stream flushes on every write; a
/// frame is small, and under load a connection usually has several waiting. Outside a batch (a keep-alive ping,
/// the answer to the client's close) a write goes straight through. Frames are whole WebSocket messages, so a ping
/// that overtakes a batch still falls between two of them. An idle connection holds no buffer.
/// </summary>
public sealed class BatchingStream(Stream inner) : Stream
{
    /// <summary>A batch is written once it reaches this size, so that no connection buffers more than about this.</summary>
    public const int MaxBatchBytes = 32 * 1024;

    private readonly Lock gate = new();
    private readonly SemaphoreSlim writing = new(1, 1); // one write at a time on the inner stream
    private byte[]? batch;
    private int batched;
    private bool batching;

    /// <summary>Whether the batch under way should be written before more goes in.</summary>
    public bool IsBatchFull => Volatile.Read(ref batched) >= MaxBatchBytes;

    /// <summary>Writes until <see cref="EndBatchAsync"/> are kept, in order, instead of written.</summary>
    public void BeginBatch()
    {
        lock (gate)
        {
            batching = true;
        }
    }

    /// <summary>Writes what the batch holds in one write to the connection, and waits for it (backpressure).</summary>
    public async ValueTask EndBatchAsync(CancellationToken ct)
    {
        byte[]? bytes;
        int length;
        lock (gate)
        {
            batching = false;
            (bytes, length, batch, batched) = (batch, batched, null, 0);
        }
        if (bytes is null)
        {
            return;
        }
        try
        {
            await WriteInnerAsync(bytes.AsMemory(0, length), ct);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        lock (gate)
        {
            if (batching)
            {
                Append(buffer.Span);
                return ValueTask.CompletedTask;
            }
        }
        return WriteInnerAsync(buffer, cancellationToken);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (batch is null || batched + bytes.Length > batch.Length)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(batched + bytes.Length, batch is null ? 4096 : batch.Length * 2));
            if (batch is not null)
            {
                batch.AsSpan(0, batched).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(batch);
            }
            batch = grown;
        }
        bytes.CopyTo(batch.AsSpan(batched));
        Volatile.Write(ref batched, batched + bytes.Length);
    }

    private async ValueTask WriteInnerAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        await writing.WaitAsync(ct);
        try
        {
            await inner.WriteAsync(bytes, ct);
            Telemetry.WebSocketWrites.Add(1);
        }
        finally
        {
            writing.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    /// <summary>
    /// The WebSocket flushes after every frame it writes; inside a batch that is a no-op, since the batch's write is
    /// what goes out (Kestrel's stream flushes on every write). Outside a batch it goes through.
    /// </summary>
    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (batching)
            {
                return Task.CompletedTask;
            }
        }
        return inner.FlushAsync(cancellationToken);
    }

    public override void Flush() => inner.Flush();

    public override bool CanRead => inner.CanRead;
    public override bool CanWrite => inner.CanWrite;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            lock (gate)
            {
                if (batch is not null)
                {
                    ArrayPool<byte>.Shared.Return(batch);
                    (batch, batched) = (null, 0);
                }
            }
        }
        base.Dispose(disposing);
    }

    /// <summary>
    /// Put in front of Kestrel's upgrade feature for WebSocket requests, before ASP.NET Core's WebSocket middleware
    /// reads it: the WebSocket it accepts then runs over a <see cref="BatchingStream"/>, which the endpoint finds
    /// with <see cref="Of"/>.
    /// </summary>
    public static void Install(HttpContext http)
    {
        if (http.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            var feature = new Upgrade(upgrade);
            http.Features.Set<IHttpUpgradeFeature>(feature);
            http.Features.Set(feature);
        }
    }

    /// <summary>The transport of an accepted WebSocket request on which <see cref="Install"/> ran; null otherwise.</summary>
    public static BatchingStream? Of(HttpContext http) => http.Features.Get<Upgrade>()?.Transport;

    private sealed class Upgrade(IHttpUpgradeFeature inner) : IHttpUpgradeFeature
    {
        public BatchingStream? Transport { get; private set; }

        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync() => Transport = new BatchingStream(await inner.UpgradeAsync());
    }
}
