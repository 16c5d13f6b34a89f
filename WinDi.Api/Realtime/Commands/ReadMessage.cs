using System.Diagnostics;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using WinDi.Api.Messages;

namespace WinDi.Api.Realtime.Commands;

public sealed record ReadMessagePayload(long? Id);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ReadMessagePayload))]
internal sealed partial class ReadMessageJson : JsonSerializerContext;

/// <summary>
/// READ_MESSAGE: moves the caller's read marker in that message's chat forward (never back). When it moved, the
/// sender's connections get the receipt and the reader's own connections the news (their unread counts).
/// </summary>
public sealed class ReadMessage(ReadReceipts receipts, IEventRelay relay) : Command<ReadMessagePayload>
{
    public override string Name => Protocol.ReadMessage;

    protected override JsonTypeInfo<ReadMessagePayload> PayloadJson => ReadMessageJson.Default.ReadMessagePayload;

    protected override string? SpanName => "message read";

    protected override string? Validate(ReadMessagePayload payload) => payload.Id is null or < 1 ? "payload.id must be a message id." : null;

    protected override async Task HandleAsync(CommandContext context, ReadMessagePayload payload, CancellationToken ct)
    {
        var id = payload.Id!.Value;
        Activity.Current?.SetTag("windi.message_id", id);
        var result = await receipts.MarkReadAsync(id, context.UserId, ct);
        switch (result.Status)
        {
            case ReadStatus.Read when result.Moved:
                var frame = Frames.Encode(new ReadMessageFrame(id, result.ChatId, context.UserId, result.IsRead));
                await relay.PublishAsync(new RealtimeEvent([result.SenderId, context.UserId], frame), default, ct);
                break;
            case ReadStatus.Read:
                break; // the marker was there already: nothing changed, so nobody is told
            case ReadStatus.MessageNotFound:
                context.Fail(Protocol.Codes.MessageNotFound, "No such message.");
                break;
            case ReadStatus.NotAMember:
                context.Fail(Protocol.Codes.NotAMember, "You are not a member of this message's chat.");
                break;
            case ReadStatus.OwnMessage:
                context.Fail(Protocol.Codes.ValidationFailed, "Read receipts are for other people's messages, not your own.");
                break;
            default:
                throw new UnreachableException();
        }
    }
}
