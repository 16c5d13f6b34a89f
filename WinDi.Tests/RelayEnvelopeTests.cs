using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

public sealed class RelayEnvelopeTests
{
    private static readonly byte[] Frame = Encoding.UTF8.GetBytes("""{"command":"NEW_MESSAGE","id":1}""");
    private static readonly RelayKey Key = new(new RelayOptions(), new WinDi.Api.Auth.JwtOptions { Secret = WinDiApp.JwtSecret });

    [Fact]
    public void AnEnvelopeWrittenWithAnotherKeyOrAlteredIsRefused()
    {
        var envelope = RelayEnvelope.Encode(Key, Guid.NewGuid(), default, new RealtimeEvent([1], Frame));
        var otherKey = new RelayKey(new RelayOptions { Secret = "not the replicas' secret" }, new WinDi.Api.Auth.JwtOptions { Secret = WinDiApp.JwtSecret });
        var forged = RelayEnvelope.Encode(otherKey, Guid.NewGuid(), default, new RealtimeEvent([1], Frame));
        var altered = (byte[])envelope.Clone();
        altered[^(RelayEnvelope.TagBytes + 2)] ^= 1; // one bit of the frame

        Assert.Equal(1, RelayEnvelope.Decode(Key, envelope).Event.Recipients.Single());
        Assert.Contains("authentication", Assert.Throws<FormatException>(() => RelayEnvelope.Decode(Key, forged)).Message, StringComparison.Ordinal);
        Assert.Contains("authentication", Assert.Throws<FormatException>(() => RelayEnvelope.Decode(Key, altered)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheRelayKeyComesFromRelaySecretWhenSetElseFromTheJwtSecretUnderItsOwnLabel()
    {
        var jwt = new WinDi.Api.Auth.JwtOptions { Secret = WinDiApp.JwtSecret };
        var derived = new RelayKey(new RelayOptions(), jwt);
        var own = new RelayKey(new RelayOptions { Secret = "a relay secret of its own, 32 bytes+" }, jwt);

        Assert.Equal(derived.Bytes, new RelayKey(new RelayOptions(), jwt).Bytes);
        Assert.NotEqual(derived.Bytes, own.Bytes);
        Assert.NotEqual(jwt.SecretBytes.AsSpan(0, 32).ToArray(), derived.Bytes); // never the token key itself
    }

    // Where the fixed header puts the trace marker and the recipient count (node id first, 16 bytes).
    private const int TraceMarkerAt = 16, TraceIdAt = 17, CountAt = 42;

    [Theory]
    [InlineData(ActivityTraceFlags.Recorded)]
    [InlineData(ActivityTraceFlags.None)]
    public void AnEnvelopeDecodesToWhatWasEncodedWithItsTraceContext(ActivityTraceFlags flags)
    {
        var node = Guid.NewGuid();
        var trace = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), flags);

        var (decodedNode, decodedTrace, decoded) = RelayEnvelope.Decode(Key, RelayEnvelope.Encode(Key, node, trace, new RealtimeEvent([7, long.MaxValue, -1], Frame)));

        Assert.Equal(node, decodedNode);
        Assert.False(decodedTrace.IsEmpty);
        var context = decodedTrace.ToActivityContext();
        Assert.Equal(trace.TraceId, context.TraceId);
        Assert.Equal(trace.SpanId, context.SpanId);
        Assert.Equal(flags, context.TraceFlags);
        Assert.True(context.IsRemote);
        Assert.Equal([7, long.MaxValue, -1], decoded.Recipients);
        Assert.Equal(Frame, decoded.Frame.ToArray());
    }

    [Fact]
    public void AnEnvelopePublishedOutsideAnyTraceSaysSo()
    {
        var (_, trace, decoded) = RelayEnvelope.Decode(Key, RelayEnvelope.Encode(Key, Guid.NewGuid(), default, new RealtimeEvent([3], Frame)));

        Assert.True(trace.IsEmpty);
        Assert.Equal(default, trace.ToActivityContext());
        Assert.Equal([3], decoded.Recipients);
        Assert.Equal(Frame, decoded.Frame.ToArray());
    }

    [Fact]
    public void AnEnvelopeWithoutRecipientsOrFrameDecodes()
    {
        var (_, _, decoded) = RelayEnvelope.Decode(Key, RelayEnvelope.Encode(Key, Guid.NewGuid(), default, new RealtimeEvent([], ReadOnlyMemory<byte>.Empty)));

        Assert.Empty(decoded.Recipients);
        Assert.True(decoded.Frame.IsEmpty);
    }

    [Fact]
    public void TheHeaderIsFixedSoATracedEnvelopeIsNoLongerThanAnUntracedOne()
    {
        var traced = RelayEnvelope.Encode(Key, Guid.NewGuid(), new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded), new RealtimeEvent([1, 2], Frame));
        var untraced = RelayEnvelope.Encode(Key, Guid.NewGuid(), default, new RealtimeEvent([1, 2], Frame));

        Assert.Equal(46 + (2 * sizeof(long)) + Frame.Length + RelayEnvelope.TagBytes, traced.Length);
        Assert.Equal(traced.Length, untraced.Length);
    }

    [Fact]
    public void AnEnvelopeShorterThanItsHeaderIsAFormatError()
    {
        var whole = RelayEnvelope.Encode(Key, Guid.NewGuid(), default, new RealtimeEvent([], ReadOnlyMemory<byte>.Empty));

        for (var length = 0; length < whole.Length; length++)
        {
            Assert.Throws<FormatException>(() => RelayEnvelope.Decode(Key, whole.AsMemory(0, length)));
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(3)]
    [InlineData(int.MaxValue)]
    public void AnEnvelopeWhoseRecipientCountDisagreesWithItsLengthIsAFormatError(int count)
    {
        var envelope = RelayEnvelope.Encode(Key, Guid.NewGuid(), default, new RealtimeEvent([1, 2], ReadOnlyMemory<byte>.Empty));
        BinaryPrimitives.WriteInt32LittleEndian(envelope.AsSpan(CountAt), count);

        Assert.Throws<FormatException>(() => RelayEnvelope.Decode(Key, envelope));
    }

    [Fact]
    public void AnEnvelopeWithAnInvalidTraceContextIsAFormatError()
    {
        var traced = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        byte[] Envelope(ActivityContext trace) => RelayEnvelope.Encode(Key, Guid.NewGuid(), trace, new RealtimeEvent([1], Frame));

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
            Assert.Throws<FormatException>(() => RelayEnvelope.Decode(Key, envelope));
        }
    }
}
