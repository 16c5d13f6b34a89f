using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using WinDi.Api.Messages;

namespace WinDi.Api.Realtime.Commands;

public sealed record EditMessagePayload(long? Id, string? Text);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(EditMessagePayload))]
internal sealed partial class EditMessageJson : JsonSerializerContext;

/// <summary>
/// EDIT_MESSAGE: the sender replaces the text of their message (the rules of SEND_MESSAGE's text); the writer then
/// publishes MESSAGE_EDITED to every member's connections, this one's included.
/// </summary>
public sealed class EditMessage(MessageWriter writer) : Command<EditMessagePayload>
{
    public override string Name => Protocol.EditMessage;

    protected override JsonTypeInfo<EditMessagePayload> PayloadJson => EditMessageJson.Default.EditMessagePayload;

    protected override string? SpanName => "message edit";

    protected override string? Validate(EditMessagePayload payload) =>
        payload.Id is null or < 1 ? "payload.id must be a message id." :
        !Message.IsValidText(payload.Text) ? $"payload.text {Message.TextRule}." :
        null;

    protected override Task HandleAsync(CommandContext context, EditMessagePayload payload, CancellationToken ct) =>
        MessageChange.MakeAsync(writer, context, payload.Id!.Value, payload.Text!, ct);
}
