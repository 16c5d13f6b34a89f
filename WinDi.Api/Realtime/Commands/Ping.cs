using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace WinDi.Api.Realtime.Commands;

public sealed record PingPayload;

[JsonSerializable(typeof(PingPayload))]
internal sealed partial class PingJson : JsonSerializerContext;

/// <summary>PING: PONG. Free of the command budget; a flood of them is bounded by the connection's output bound.</summary>
public sealed class Ping : Command<PingPayload>
{
    public override string Name => Protocol.Ping;

    protected override JsonTypeInfo<PingPayload> PayloadJson => PingJson.Default.PingPayload;

    protected override bool Metered => false;

    protected override Task HandleAsync(CommandContext context, PingPayload payload, CancellationToken ct)
    {
        context.Reply(Frames.Pong);
        return Task.CompletedTask;
    }
}
