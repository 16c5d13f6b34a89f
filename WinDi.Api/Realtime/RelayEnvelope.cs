using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using WinDi.Api.Auth;

namespace WinDi.Api.Realtime;

/// <summary>
/// The events of one batch on the Redis channel (a writer's batch of sends and changes, or one event): the publishing
/// node (so it can skip its own events), the trace context of the span that published them (so the delivery on
/// another replica continues the sender's trace), and each event's recipients and frame exactly as clients receive
/// it. Binary, so a replica decodes it without parsing JSON; one envelope, one tag and one publish a batch.
/// <code>
/// offset  bytes  field
///      0     16  node id (Guid bytes)
///     16      1  trace marker: 0 = no trace context (the 25 bytes after it are zero), 1 = W3C trace context
///     17     16  trace id      } the W3C traceparent's fields, in binary; its version is implied by the
///     33      8  parent span id} marker, and tracestate is not carried (WinDi sets none)
///     41      1  trace flags   }
///     42      4  event count E (int32, little endian)
/// then E events, each:
///             4  recipient count N (int32, little endian)
///           8×N  recipient user ids (int64, little endian)
///             4  frame length L (int32, little endian)
///             L  the frame, UTF-8 JSON
///    end     16  tag: HMAC-SHA256 of everything before it with the <see cref="RelayKey"/>, first 16 bytes
/// </code>
/// The header is fixed (46 bytes), so a traced envelope is no longer than an untraced one. Encode and Decode are the
/// only code that knows this layout. An envelope whose tag does not verify is refused before any of it is read.
/// </summary>
public static class RelayEnvelope
{
    private const int NodeBytes = 16;
    private const int TraceIdBytes = 16, SpanIdBytes = 8;
    private const int TraceBytes = 1 + TraceIdBytes + SpanIdBytes + 1;
    private const int HeaderBytes = NodeBytes + TraceBytes + sizeof(int);
    private const byte NoTraceContext = 0, W3CTraceContext = 1;
    public const int TagBytes = 16;

    /// <param name="trace">The publishing span's context; default when nothing traced the publish.</param>
    public static byte[] Encode(RelayKey key, Guid node, in ActivityContext trace, IReadOnlyList<RealtimeEvent> events)
    {
        var length = HeaderBytes + TagBytes;
        foreach (var realtimeEvent in events)
        {
            length += sizeof(int) + (realtimeEvent.Recipients.Length * sizeof(long)) + sizeof(int) + realtimeEvent.Frame.Length;
        }
        var buffer = new byte[length];
        node.TryWriteBytes(buffer);
        var span = buffer.AsSpan(NodeBytes);
        // A default context has an all-zero trace id, which W3C declares invalid: it travels as "no context".
        if (trace != default)
        {
            span[0] = W3CTraceContext;
            // CopyTo fills exactly the span it is given: give it the field, not the rest of the buffer.
            trace.TraceId.CopyTo(span.Slice(1, TraceIdBytes));
            trace.SpanId.CopyTo(span.Slice(1 + TraceIdBytes, SpanIdBytes));
            span[1 + TraceIdBytes + SpanIdBytes] = (byte)trace.TraceFlags;
        }
        span = span[TraceBytes..];
        span = WriteInt32(span, events.Count);
        foreach (var realtimeEvent in events)
        {
            span = WriteInt32(span, realtimeEvent.Recipients.Length);
            foreach (var user in realtimeEvent.Recipients)
            {
                BinaryPrimitives.WriteInt64LittleEndian(span, user);
                span = span[sizeof(long)..];
            }
            span = WriteInt32(span, realtimeEvent.Frame.Length);
            realtimeEvent.Frame.Span.CopyTo(span);
            span = span[realtimeEvent.Frame.Length..];
        }
        Tag(key, buffer.AsSpan(0, buffer.Length - TagBytes), buffer.AsSpan(buffer.Length - TagBytes));
        return buffer;
    }

    private static Span<byte> WriteInt32(Span<byte> span, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(span, value);
        return span[sizeof(int)..];
    }

    /// <summary>Reads an envelope from the channel, once its tag proves that a replica with the same key wrote it.</summary>
    /// <returns>The events in the order they were encoded; each frame is a slice of <paramref name="envelope"/>.</returns>
    /// <exception cref="FormatException">The envelope is not one <see cref="Encode"/> wrote with this key (forged, altered, short, or its counts, lengths or trace context disagree); the only exception it throws.</exception>
    public static (Guid Node, RelayTrace Trace, RealtimeEvent[] Events) Decode(RelayKey key, ReadOnlyMemory<byte> envelope)
    {
        if (envelope.Length < TagBytes)
        {
            throw new FormatException($"Malformed relay envelope: {envelope.Length} bytes, shorter than its tag.");
        }
        var body = envelope[..^TagBytes];
        Span<byte> expected = stackalloc byte[TagBytes];
        Tag(key, body.Span, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, envelope.Span[^TagBytes..]))
        {
            throw new FormatException("Relay envelope failed authentication: it was not written by a replica with this relay key.");
        }
        return Parse(body);
    }

    private static void Tag(RelayKey key, ReadOnlySpan<byte> body, Span<byte> tag)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        key.Mac(body, mac);
        mac[..TagBytes].CopyTo(tag);
    }

    /// <summary>The layout under the tag; what <see cref="Decode"/> reads once the tag verifies.</summary>
    internal static (Guid Node, RelayTrace Trace, RealtimeEvent[] Events) Parse(ReadOnlyMemory<byte> envelope)
    {
        var span = envelope.Span;
        if (span.Length < HeaderBytes)
        {
            throw new FormatException($"Malformed relay envelope: {span.Length} bytes, shorter than its {HeaderBytes}-byte header.");
        }
        var node = new Guid(span[..NodeBytes]);
        var trace = DecodeTrace(envelope.Slice(NodeBytes, TraceBytes));
        var offset = NodeBytes + TraceBytes;
        // Every event takes at least its two counts: a count that cannot fit is refused before anything is allocated.
        var count = ReadCount(span, ref offset, sizeof(int) * 2L, "events");
        var events = new RealtimeEvent[count];
        for (var e = 0; e < count; e++)
        {
            var users = new long[ReadCount(span, ref offset, sizeof(long), "recipients")];
            for (var i = 0; i < users.Length; i++, offset += sizeof(long))
            {
                users[i] = BinaryPrimitives.ReadInt64LittleEndian(span[offset..]);
            }
            var length = ReadCount(span, ref offset, 1, "frame bytes");
            events[e] = new RealtimeEvent(users, envelope.Slice(offset, length));
            offset += length;
        }
        if (offset != span.Length)
        {
            throw new FormatException($"Malformed relay envelope: {span.Length - offset} bytes after its last event.");
        }
        return (node, trace, events);
    }

    /// <summary>A count at <paramref name="offset"/> whose items, of at least <paramref name="itemBytes"/> each, fit in what follows it.</summary>
    private static int ReadCount(ReadOnlySpan<byte> span, ref int offset, long itemBytes, string what)
    {
        if (offset + sizeof(int) > span.Length)
        {
            throw new FormatException($"Malformed relay envelope: it ends where its count of {what} should be.");
        }
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[offset..]);
        offset += sizeof(int);
        if (count < 0 || offset + (count * itemBytes) > span.Length)
        {
            throw new FormatException($"Malformed relay envelope: {count} {what} do not fit in {span.Length} bytes.");
        }
        return count;
    }

    /// <summary>The W3C fields of a <see cref="RelayTrace"/> that <see cref="DecodeTrace"/> validated.</summary>
    internal static ActivityContext ReadTraceContext(ReadOnlySpan<byte> ids) => new(
        ActivityTraceId.CreateFromBytes(ids[..TraceIdBytes]),
        ActivitySpanId.CreateFromBytes(ids[TraceIdBytes..(TraceIdBytes + SpanIdBytes)]),
        (ActivityTraceFlags)ids[TraceIdBytes + SpanIdBytes],
        isRemote: true);

    private static RelayTrace DecodeTrace(ReadOnlyMemory<byte> field)
    {
        var span = field.Span;
        var ids = span.Slice(1, TraceIdBytes + SpanIdBytes);
        switch (span[0])
        {
            case NoTraceContext when !span[1..].ContainsAnyExcept((byte)0):
                return default;
            case W3CTraceContext when ids[..TraceIdBytes].ContainsAnyExcept((byte)0) && ids[TraceIdBytes..].ContainsAnyExcept((byte)0):
                return new RelayTrace(field[1..]);
            default:
                // An unknown marker, or ids that W3C declares invalid (all zero).
                throw new FormatException("Malformed relay envelope: its trace context is invalid.");
        }
    }
}

/// <summary>
/// The trace context an envelope carries, still as its bytes. Turning it into an <see cref="ActivityContext"/>
/// allocates the ids' hex strings, so a replica does that only for a delivery it traces.
/// </summary>
public readonly struct RelayTrace
{
    private readonly ReadOnlyMemory<byte> context; // trace id, span id, flags; empty when the envelope carries none

    internal RelayTrace(ReadOnlyMemory<byte> context) => this.context = context;

    public bool IsEmpty => context.IsEmpty;

    /// <summary>The publisher's span as a remote parent; default when the envelope carries no context.</summary>
    public ActivityContext ToActivityContext() => context.IsEmpty ? default : RelayEnvelope.ReadTraceContext(context.Span);
}

/// <summary>
/// A session that ended, on the <c>windi:sessions</c> channel (<see cref="RedisRelay"/>): every replica closes its sockets
/// of the session and refuses its tokens. Authenticated like <see cref="RelayEnvelope"/>, with the same key under a label
/// of its own, so that a process that can only reach Redis cannot close anyone's sockets either.
/// <code>
/// offset  bytes  field
///      0     16  node id (Guid bytes)
///     16      8  user id (int64, little endian)
///     24     16  session id (Guid bytes)
///     40     16  tag: HMAC-SHA256 of the label "windi session ended" and the 40 bytes before it, first 16 bytes
/// </code>
/// </summary>
public static class SessionEndedEnvelope
{
    private const int BodyBytes = 16 + sizeof(long) + 16;
    public const int Length = BodyBytes + RelayEnvelope.TagBytes;
    private static readonly byte[] Label = "windi session ended"u8.ToArray();

    public static byte[] Encode(RelayKey key, Guid node, EndedSession ended)
    {
        var buffer = new byte[Length];
        node.TryWriteBytes(buffer);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(16), ended.UserId);
        ended.SessionId.TryWriteBytes(buffer.AsSpan(16 + sizeof(long)));
        Tag(key, buffer.AsSpan(0, BodyBytes), buffer.AsSpan(BodyBytes));
        return buffer;
    }

    /// <exception cref="FormatException">Not an envelope <see cref="Encode"/> wrote with this key; the only exception it throws.</exception>
    public static (Guid Node, EndedSession Ended) Decode(RelayKey key, ReadOnlySpan<byte> envelope)
    {
        if (envelope.Length != Length)
        {
            throw new FormatException($"Malformed session-ended envelope: {envelope.Length} bytes, not {Length}.");
        }
        Span<byte> expected = stackalloc byte[RelayEnvelope.TagBytes];
        Tag(key, envelope[..BodyBytes], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, envelope[BodyBytes..]))
        {
            throw new FormatException("Session-ended envelope failed authentication: it was not written by a replica with this relay key.");
        }
        return (new Guid(envelope[..16]),
            new EndedSession(BinaryPrimitives.ReadInt64LittleEndian(envelope[16..]), new Guid(envelope.Slice(16 + sizeof(long), 16))));
    }

    private static void Tag(RelayKey key, ReadOnlySpan<byte> body, Span<byte> tag)
    {
        Span<byte> labelled = stackalloc byte[Label.Length + BodyBytes];
        Label.CopyTo(labelled);
        body.CopyTo(labelled[Label.Length..]);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        key.Mac(labelled, mac);
        mac[..RelayEnvelope.TagBytes].CopyTo(tag);
    }
}
