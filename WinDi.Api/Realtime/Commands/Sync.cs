using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using WinDi.Api.Data;
using WinDi.Api.Messages;

namespace WinDi.Api.Realtime.Commands;

public sealed record SyncPayload(long? AfterId, int? Limit);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SyncPayload))]
internal sealed partial class SyncJson : JsonSerializerContext;

/// <summary>SYNC: every message of the caller's chats after <c>after_id</c>, ascending, as NEW_MESSAGE, then SYNC_DONE.</summary>
public sealed class Sync(IServiceScopeFactory scopes) : Command<SyncPayload>
{
    public const int DefaultLimit = 500;
    public const int MaxLimit = 1000;

    public override string Name => Protocol.Sync;

    protected override JsonTypeInfo<SyncPayload> PayloadJson => SyncJson.Default.SyncPayload;

    protected override string? Validate(SyncPayload payload) =>
        payload.AfterId is null or < 0 || payload.Limit is < 1 or > MaxLimit
            ? $"payload.after_id must be 0 or more and payload.limit between 1 and {MaxLimit}."
            : null;

    protected override async Task HandleAsync(CommandContext context, SyncPayload payload, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<WinDiDb>();
        var afterId = payload.AfterId!.Value;
        var (page, hasMore) = await MessageSync.PageAsync(db, context.UserId, afterId, payload.Limit ?? DefaultLimit, ct);
        var frames = new List<ReadOnlyMemory<byte>>(page.Count + 1);
        frames.AddRange(page.Select(m => Frames.Encode(NewMessageFrame.From(m))));
        frames.Add(Frames.Encode(new SyncDoneFrame(page.Count > 0 ? page[^1].Id : afterId, hasMore)));
        // One entry of the connection's queue: the page goes out whole and in order, under the byte bound.
        context.Connection.Reply(frames);
    }
}
