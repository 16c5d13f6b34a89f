using System.Buffers.Binary;

namespace WinDi.Api.Realtime;

/// <summary>
/// An event on the Redis channel: the publishing node (so it can skip its own events), the recipients,
/// and the frame exactly as clients receive it. Binary, so a replica decodes it without parsing JSON.
/// Layout: 16-byte node id, int32 recipient count, that many int64 user ids, then the UTF-8 frame.
/// </summary>
public static class RelayEnvelope
{
    private const int NodeBytes = 16;
    private const int HeaderBytes = NodeBytes + sizeof(int);

    public static byte[] Encode(Guid node, RealtimeEvent realtimeEvent)
    {
        var users = realtimeEvent.UserIds;
        var buffer = new byte[HeaderBytes + (users.Length * sizeof(long)) + realtimeEvent.Frame.Length];
        node.TryWriteBytes(buffer);
        var span = buffer.AsSpan(NodeBytes);
        BinaryPrimitives.WriteInt32LittleEndian(span, users.Length);
        span = span[sizeof(int)..];
        foreach (var user in users)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span, user);
            span = span[sizeof(long)..];
        }
        realtimeEvent.Frame.Span.CopyTo(span);
        return buffer;
    }

    /// <summary>Reads an envelope from the channel.</summary>
    /// <exception cref="FormatException">The envelope is not one <see cref="Encode"/> wrote (short, or its lengths disagree); the only exception it throws.</exception>
    public static (Guid Node, RealtimeEvent Event) Decode(ReadOnlyMemory<byte> envelope)
    {
        var span = envelope.Span;
        if (span.Length < HeaderBytes)
        {
            throw new FormatException($"Malformed relay envelope: {span.Length} bytes, shorter than its {HeaderBytes}-byte header.");
        }
        var node = new Guid(span[..NodeBytes]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[NodeBytes..]);
        if (count < 0 || HeaderBytes + ((long)count * sizeof(long)) > span.Length)
        {
            throw new FormatException($"Malformed relay envelope: {count} recipients do not fit in {span.Length} bytes.");
        }
        var users = new long[count];
        var offset = HeaderBytes;
        for (var i = 0; i < count; i++, offset += sizeof(long))
        {
            users[i] = BinaryPrimitives.ReadInt64LittleEndian(span[offset..]);
        }
        return (node, new RealtimeEvent(users, envelope[offset..]));
    }
}
