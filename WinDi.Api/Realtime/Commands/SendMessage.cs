using System.Diagnostics;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using WinDi.Api.Messages;

namespace WinDi.Api.Realtime.Commands;

public sealed record SendMessagePayload(long? ChatId, string? Text, string? ClientMessageId);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SendMessagePayload))]
internal sealed partial class SendMessageJson : JsonSerializerContext;

/// <summary>
/// SEND_MESSAGE: stores the message (idempotent per sender and client_message_id); the writer then publishes it
/// to every member's connections, this one's included.
/// </summary>
public sealed class SendMessage(MessageWriter writer) : Command<SendMessagePayload>
{
    public override string Name => Protocol.SendMessage;

    protected override JsonTypeInfo<SendMessagePayload> PayloadJson => SendMessageJson.Default.SendMessagePayload;

    protected override string? SpanName => "message send";

    protected override string? Validate(SendMessagePayload payload) =>
        payload.ChatId is null ? "payload.chat_id must be an integer." :
        !Message.IsValidText(payload.Text) ? $"payload.text {Message.TextRule}." :
        payload.ClientMessageId is null || payload.ClientMessageId.Length is 0 or > Message.MaxClientMessageIdLength
            ? $"payload.client_message_id must be 1 to {Message.MaxClientMessageIdLength} characters." :
        null;

    protected override async Task HandleAsync(CommandContext context, SendMessagePayload payload, CancellationToken ct)
    {
        Activity.Current?.SetTag("windi.chat_id", payload.ChatId);
        var result = await writer.SendAsync(payload.ChatId!.Value, context.UserId, payload.Text!, payload.ClientMessageId!, ct);
        Activity.Current?.SetTag("windi.send_status", result.Status.ToString());
        switch (result.Status)
        {
            case SendStatus.Created:
                break; // the writer has published it to every member's connections, this one's included
            case SendStatus.Duplicate:
                // Only the sending connection hears of a repeat; everyone else already has the original.
                context.Reply(Frames.Encode(NewMessageFrame.From(result.Message!)));
                break;
            case SendStatus.Deleted:
                // A repeat of a message deleted since: its tombstone, with the key the sender can match it by.
                var deleted = result.Message!;
                context.Reply(Frames.Encode(new MessageDeletedFrame(deleted.Id, deleted.ChatId, deleted.Seq, deleted.ClientMessageId)));
                break;
            case SendStatus.ChatNotFound:
                context.Fail(Protocol.Codes.ChatNotFound, "No such chat.");
                break;
            case SendStatus.NotAMember:
                context.Fail(Protocol.Codes.NotAMember, "You are not a member of this chat.");
                break;
            default:
                throw new UnreachableException();
        }
    }
}
