using System.Buffers.Binary;
using System.Text;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

public sealed class RelayEnvelopeTests
{
    private static readonly byte[] Frame = Encoding.UTF8.GetBytes("""{"command":"NEW_MESSAGE","id":1}""");

    [Fact]
    public void AnEnvelopeDecodesToWhatWasEncoded()
    {
        var node = Guid.NewGuid();

        var (decodedNode, decoded) = RelayEnvelope.Decode(RelayEnvelope.Encode(node, new RealtimeEvent([7, long.MaxValue, -1], Frame)));

        Assert.Equal(node, decodedNode);
        Assert.Equal([7, long.MaxValue, -1], decoded.UserIds);
        Assert.Equal(Frame, decoded.Frame.ToArray());
    }

    [Fact]
    public void AnEnvelopeWithoutRecipientsOrFrameDecodes()
    {
        var (_, decoded) = RelayEnvelope.Decode(RelayEnvelope.Encode(Guid.NewGuid(), new RealtimeEvent([], ReadOnlyMemory<byte>.Empty)));

        Assert.Empty(decoded.UserIds);
        Assert.True(decoded.Frame.IsEmpty);
    }

    [Fact]
    public void AnEnvelopeShorterThanItsHeaderIsAFormatError()
    {
        var whole = RelayEnvelope.Encode(Guid.NewGuid(), new RealtimeEvent([], ReadOnlyMemory<byte>.Empty));

        for (var length = 0; length < whole.Length; length++)
        {
            Assert.Throws<FormatException>(() => RelayEnvelope.Decode(whole.AsMemory(0, length)));
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(3)]
    [InlineData(int.MaxValue)]
    public void AnEnvelopeWhoseRecipientCountDisagreesWithItsLengthIsAFormatError(int count)
    {
        var envelope = RelayEnvelope.Encode(Guid.NewGuid(), new RealtimeEvent([1, 2], ReadOnlyMemory<byte>.Empty));
        var countAt = envelope.Length - (2 * sizeof(long)) - sizeof(int);
        BinaryPrimitives.WriteInt32LittleEndian(envelope.AsSpan(countAt), count);

        Assert.Throws<FormatException>(() => RelayEnvelope.Decode(envelope));
    }
}
