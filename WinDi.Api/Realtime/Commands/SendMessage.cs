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
/// to every member's connections, this one's included, or answers this connection.
/// </summary>
public sealed class SendMessage(MessageWriter writer) : Command<SendMessagePayload>
{
    public override string Name => Protocol.SendMessage;

    protected override JsonTypeInfo<SendMessagePayload> PayloadJson => SendMessageJson.Default.SendMessagePayload;

    protected override string? SpanName => "message send";

    /// <summary>The writer's queue keeps a connection's sends in order, so the connection reads on while they are stored.</summary>
    public override bool Pipelined => true;

    protected override string? Validate(SendMessagePayload payload) =>
        payload.ChatId is null ? "payload.chat_id must be an integer." :
        !Message.IsValidText(payload.Text) ? $"payload.text {Message.TextRule}." :
        payload.ClientMessageId is null || payload.ClientMessageId.Length is 0 or > Message.MaxClientMessageIdLength
            ? $"payload.client_message_id must be 1 to {Message.MaxClientMessageIdLength} characters." :
        null;

    protected override async Task HandleAsync(CommandContext context, SendMessagePayload payload, CancellationToken ct)
    {
        Activity.Current?.SetTag("windi.chat_id", payload.ChatId);
        // The writer answers: the live NEW_MESSAGE of a message it stores, or the frame Answer gives, in the order the
        // connection's sends are stored.
        var result = await writer.SendAsync(payload.ChatId!.Value, context.UserId, payload.Text!, payload.ClientMessageId!, context.Connection,
            result => Answer(context, result), ct);
        Activity.Current?.SetTag("windi.send_status", result.Status.ToString());
    }

    /// <summary>What the sending connection hears of a send that stored nothing new.</summary>
    private static ReadOnlyMemory<byte> Answer(CommandContext context, SendResult result) => result.Status switch
    {
        // A repeat: only the sending connection hears of it; everyone else already has the original.
        SendStatus.Duplicate => Frames.Encode(NewMessageFrame.From(result.Message!)),
        // A repeat of a message deleted since: its tombstone, with the key the sender can match it by.
        SendStatus.Deleted => Frames.Encode(new MessageDeletedFrame(result.Message!.Id, result.Message.ChatId, result.Message.Seq, result.Message.ClientMessageId)),
        SendStatus.ChatNotFound => context.Error(Protocol.Codes.ChatNotFound, "No such chat."),
        SendStatus.NotAMember => context.Error(Protocol.Codes.NotAMember, "You are not a member of this chat."),
        SendStatus.Failed => context.Error(Protocol.Codes.Internal, "The server could not store this message; it is safe to retry."),
        _ => throw new UnreachableException(),
    };
}
