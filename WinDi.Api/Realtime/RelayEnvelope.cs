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

    public static byte[] Encode(Guid node, RealtimeEvent realtimeEvent)
    {
        var users = realtimeEvent.UserIds;
        var buffer = new byte[NodeBytes + sizeof(int) + (users.Length * sizeof(long)) + realtimeEvent.Frame.Length];
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

    public static (Guid Node, RealtimeEvent Event) Decode(ReadOnlyMemory<byte> envelope)
    {
        var span = envelope.Span;
        var node = new Guid(span[..NodeBytes]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[NodeBytes..]);
        if (count < 0 || NodeBytes + sizeof(int) + ((long)count * sizeof(long)) > span.Length)
        {
            throw new FormatException("Malformed relay envelope.");
        }
        var users = new long[count];
        var offset = NodeBytes + sizeof(int);
        for (var i = 0; i < count; i++, offset += sizeof(long))
        {
            users[i] = BinaryPrimitives.ReadInt64LittleEndian(span[offset..]);
        }
        return (node, new RealtimeEvent(users, envelope[offset..]));
    }
}
