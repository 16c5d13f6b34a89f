using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

public sealed class RelayEnvelopeTests
{
    private static readonly byte[] Frame = Encoding.UTF8.GetBytes("""{"command":"NEW_MESSAGE","id":1}""");

    // Where the fixed header puts the trace marker and the recipient count (node id first, 16 bytes).
    private const int TraceMarkerAt = 16, TraceIdAt = 17, CountAt = 42;

    [Theory]
    [InlineData(ActivityTraceFlags.Recorded)]
    [InlineData(ActivityTraceFlags.None)]
    public void AnEnvelopeDecodesToWhatWasEncodedWithItsTraceContext(ActivityTraceFlags flags)
    {
        var node = Guid.NewGuid();
        var trace = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), flags);

        var (decodedNode, decodedTrace, decoded) = RelayEnvelope.Decode(RelayEnvelope.Encode(node, trace, new RealtimeEvent([7, long.MaxValue, -1], Frame)));

        Assert.Equal(node, decodedNode);
        Assert.False(decodedTrace.IsEmpty);
        var context = decodedTrace.ToActivityContext();
        Assert.Equal(trace.TraceId, context.TraceId);
        Assert.Equal(trace.SpanId, context.SpanId);
        Assert.Equal(flags, context.TraceFlags);
        Assert.True(context.IsRemote);
        Assert.Equal([7, long.MaxValue, -1], decoded.UserIds);
        Assert.Equal(Frame, decoded.Frame.ToArray());
    }

    [Fact]
    public void AnEnvelopePublishedOutsideAnyTraceSaysSo()
    {
        var (_, trace, decoded) = RelayEnvelope.Decode(RelayEnvelope.Encode(Guid.NewGuid(), default, new RealtimeEvent([3], Frame)));

        Assert.True(trace.IsEmpty);
        Assert.Equal(default, trace.ToActivityContext());
        Assert.Equal([3], decoded.UserIds);
        Assert.Equal(Frame, decoded.Frame.ToArray());
    }

    [Fact]
    public void AnEnvelopeWithoutRecipientsOrFrameDecodes()
    {
        var (_, _, decoded) = RelayEnvelope.Decode(RelayEnvelope.Encode(Guid.NewGuid(), default, new RealtimeEvent([], ReadOnlyMemory<byte>.Empty)));

        Assert.Empty(decoded.UserIds);
        Assert.True(decoded.Frame.IsEmpty);
    }

    [Fact]
    public void TheHeaderIsFixedSoATracedEnvelopeIsNoLongerThanAnUntracedOne()
    {
        var traced = RelayEnvelope.Encode(Guid.NewGuid(), new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded), new RealtimeEvent([1, 2], Frame));
        var untraced = RelayEnvelope.Encode(Guid.NewGuid(), default, new RealtimeEvent([1, 2], Frame));

        Assert.Equal(46 + (2 * sizeof(long)) + Frame.Length, traced.Length);
        Assert.Equal(traced.Length, untraced.Length);
    }

    [Fact]
    public void AnEnvelopeShorterThanItsHeaderIsAFormatError()
    {
        var whole = RelayEnvelope.Encode(Guid.NewGuid(), default, new RealtimeEvent([], ReadOnlyMemory<byte>.Empty));

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
        var envelope = RelayEnvelope.Encode(Guid.NewGuid(), default, new RealtimeEvent([1, 2], ReadOnlyMemory<byte>.Empty));
        BinaryPrimitives.WriteInt32LittleEndian(envelope.AsSpan(CountAt), count);

        Assert.Throws<FormatException>(() => RelayEnvelope.Decode(envelope));
    }

    [Fact]
    public void AnEnvelopeWithAnInvalidTraceContextIsAFormatError()
    {
        var traced = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        byte[] Envelope(ActivityContext trace) => RelayEnvelope.Encode(Guid.NewGuid(), trace, new RealtimeEvent([1], Frame));

        var unknownMarker = Envelope(traced);
        unknownMarker[TraceMarkerAt] = 2;
        var zeroTraceId = Envelope(traced);
        zeroTraceId.AsSpan(TraceIdAt, 16).Clear();
        var zeroSpanId = Envelope(traced);
        zeroSpanId.AsSpan(TraceIdAt + 16, 8).Clear();
        var noContextButIds = Envelope(traced);
        noContextButIds[TraceMarkerAt] = 0;

        foreach (var envelope in new[] { unknownMarker, zeroTraceId, zeroSpanId, noContextButIds })
        {
            Assert.Throws<FormatException>(() => RelayEnvelope.Decode(envelope));
        }
    }
}
