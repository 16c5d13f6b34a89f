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
        string.IsNullOrWhiteSpace(payload.Text) || payload.Text.Length > Message.MaxTextLength
            ? $"payload.text must be 1 to {Message.MaxTextLength} characters and not blank." :
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
