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
        var envelope = RelayEnvelope.Encode(Key, Guid.NewGuid(), default, [new RealtimeEvent([1], Frame)]);
        var otherKey = new RelayKey(new RelayOptions { Secret = "not the replicas' secret" }, new WinDi.Api.Auth.JwtOptions { Secret = WinDiApp.JwtSecret });
        var forged = RelayEnvelope.Encode(otherKey, Guid.NewGuid(), default, [new RealtimeEvent([1], Frame)]);
        var altered = (byte[])envelope.Clone();
        altered[^(RelayEnvelope.TagBytes + 2)] ^= 1; // one bit of the frame

        Assert.Equal(1, RelayEnvelope.Decode(Key, envelope).Events.Single().Recipients.Single());
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

    // Where the fixed header puts the trace marker and the event count (node id first, 16 bytes); the first event's
    // recipient count follows it.
    private const int TraceMarkerAt = 16, TraceIdAt = 17, EventCountAt = 42, RecipientCountAt = 46;

    [Theory]
    [InlineData(ActivityTraceFlags.Recorded)]
    [InlineData(ActivityTraceFlags.None)]
    public void AnEnvelopeDecodesToWhatWasEncodedWithItsTraceContext(ActivityTraceFlags flags)
    {
        var node = Guid.NewGuid();
        var trace = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), flags);

        var (decodedNode, decodedTrace, events) = RelayEnvelope.Decode(Key, RelayEnvelope.Encode(Key, node, trace, [new RealtimeEvent([7, long.MaxValue, -1], Frame)]));

        Assert.Equal(node, decodedNode);
        Assert.False(decodedTrace.IsEmpty);
        var context = decodedTrace.ToActivityContext();
        Assert.Equal(trace.TraceId, context.TraceId);
        Assert.Equal(trace.SpanId, context.SpanId);
        Assert.Equal(flags, context.TraceFlags);
        Assert.True(context.IsRemote);
        var decoded = Assert.Single(events);
        Assert.Equal([7, long.MaxValue, -1], decoded.Recipients);
        Assert.Equal(Frame, decoded.Frame.ToArray());
    }

    [Fact]
    public void TheEventsOfABatchDecodeInTheOrderTheyWereEncoded()
    {
        var second = Encoding.UTF8.GetBytes("""{"command":"MESSAGE_DELETED","id":1}""");
        RealtimeEvent[] batch = [new([1, 2], Frame), new([], second), new([3], ReadOnlyMemory<byte>.Empty), new([4, 5, 6], Frame)];

        var (_, _, events) = RelayEnvelope.Decode(Key, RelayEnvelope.Encode(Key, Guid.NewGuid(), default, batch));

        Assert.Equal(batch.Select(e => e.Recipients), events.Select(e => e.Recipients));
        Assert.Equal(batch.Select(e => e.Frame.ToArray()), events.Select(e => e.Frame.ToArray()));
    }

    [Fact]
    public void AnEnvelopePublishedOutsideAnyTraceSaysSo()
    {
        var (_, trace, events) = RelayEnvelope.Decode(Key, RelayEnvelope.Encode(Key, Guid.NewGuid(), default, [new RealtimeEvent([3], Frame)]));

        Assert.True(trace.IsEmpty);
        Assert.Equal(default, trace.ToActivityContext());
        var decoded = Assert.Single(events);
        Assert.Equal([3], decoded.Recipients);
        Assert.Equal(Frame, decoded.Frame.ToArray());
    }

    [Fact]
    public void AnEnvelopeWithoutRecipientsOrFrameOrEventsDecodes()
    {
        var (_, _, events) = RelayEnvelope.Decode(Key, RelayEnvelope.Encode(Key, Guid.NewGuid(), default, [new RealtimeEvent([], ReadOnlyMemory<byte>.Empty)]));
        var (_, _, none) = RelayEnvelope.Decode(Key, RelayEnvelope.Encode(Key, Guid.NewGuid(), default, []));

        var decoded = Assert.Single(events);
        Assert.Empty(decoded.Recipients);
        Assert.True(decoded.Frame.IsEmpty);
        Assert.Empty(none);
    }

    [Fact]
    public void TheHeaderIsFixedSoATracedEnvelopeIsNoLongerThanAnUntracedOne()
    {
        var traced = RelayEnvelope.Encode(Key, Guid.NewGuid(), new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded), [new RealtimeEvent([1, 2], Frame)]);
        var untraced = RelayEnvelope.Encode(Key, Guid.NewGuid(), default, [new RealtimeEvent([1, 2], Frame)]);

        Assert.Equal(46 + sizeof(int) + (2 * sizeof(long)) + sizeof(int) + Frame.Length + RelayEnvelope.TagBytes, traced.Length);
        Assert.Equal(traced.Length, untraced.Length);
    }

    [Fact]
    public void AnEnvelopeShorterThanItsHeaderIsAFormatError()
    {
        var whole = RelayEnvelope.Encode(Key, Guid.NewGuid(), default, [new RealtimeEvent([], ReadOnlyMemory<byte>.Empty)]);

        for (var length = 0; length < whole.Length; length++)
        {
            Assert.Throws<FormatException>(() => RelayEnvelope.Decode(Key, whole.AsMemory(0, length)));
        }
    }

    [Theory]
    [InlineData(EventCountAt, -1)]
    [InlineData(EventCountAt, int.MinValue)]
    [InlineData(EventCountAt, 2)]
    [InlineData(EventCountAt, 0)]
    [InlineData(EventCountAt, int.MaxValue)]
    [InlineData(RecipientCountAt, -1)]
    [InlineData(RecipientCountAt, int.MinValue)]
    [InlineData(RecipientCountAt, 3)]
    [InlineData(RecipientCountAt, 1)]
    [InlineData(RecipientCountAt, int.MaxValue)]
    public void AnEnvelopeWhoseCountsDisagreeWithItsLengthIsAFormatError(int at, int count)
    {
        var envelope = RelayEnvelope.Encode(Key, Guid.NewGuid(), default, [new RealtimeEvent([1, 2], ReadOnlyMemory<byte>.Empty)]);
        BinaryPrimitives.WriteInt32LittleEndian(envelope.AsSpan(at), count);

        Assert.Throws<FormatException>(() => RelayEnvelope.Parse(envelope.AsMemory(0, envelope.Length - RelayEnvelope.TagBytes)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    [InlineData(int.MaxValue)]
    public void AnEnvelopeWhoseFrameLengthDisagreesWithItsLengthIsAFormatError(int change)
    {
        var envelope = RelayEnvelope.Encode(Key, Guid.NewGuid(), default, [new RealtimeEvent([1], Frame)]);
        var at = RecipientCountAt + sizeof(int) + sizeof(long);
        BinaryPrimitives.WriteInt32LittleEndian(envelope.AsSpan(at), (int)Math.Clamp((long)Frame.Length + change, int.MinValue, int.MaxValue));

        Assert.Throws<FormatException>(() => RelayEnvelope.Parse(envelope.AsMemory(0, envelope.Length - RelayEnvelope.TagBytes)));
    }

    [Fact]
    public void AnEnvelopeWithAnInvalidTraceContextIsAFormatError()
    {
        var traced = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        byte[] Envelope(ActivityContext trace) => RelayEnvelope.Encode(Key, Guid.NewGuid(), trace, [new RealtimeEvent([1], Frame)]);

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
