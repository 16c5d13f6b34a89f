using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using WinDi.Api.Messages;

namespace WinDi.Api.Realtime.Commands;

public sealed record DeleteMessagePayload(long? Id);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(DeleteMessagePayload))]
internal sealed partial class DeleteMessageJson : JsonSerializerContext;

/// <summary>
/// DELETE_MESSAGE: the sender deletes their message for everyone (its text is overwritten in the database); the
/// writer then publishes MESSAGE_DELETED to every member's connections, this one's included.
/// </summary>
public sealed class DeleteMessage(MessageWriter writer) : Command<DeleteMessagePayload>
{
    public override string Name => Protocol.DeleteMessage;

    protected override JsonTypeInfo<DeleteMessagePayload> PayloadJson => DeleteMessageJson.Default.DeleteMessagePayload;

    protected override string? SpanName => "message delete";

    protected override string? Validate(DeleteMessagePayload payload) => payload.Id is null or < 1 ? "payload.id must be a message id." : null;

    protected override Task HandleAsync(CommandContext context, DeleteMessagePayload payload, CancellationToken ct) =>
        MessageChange.MakeAsync(writer, context, payload.Id!.Value, text: null, ct);
}
