using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Npgsql;
using WinDi.Api.Messages;

namespace WinDi.Api.Realtime.Commands;

public sealed record SyncPayload(long? AfterId, long? AfterSeq, int? Limit);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SyncPayload))]
internal sealed partial class SyncJson : JsonSerializerContext;

/// <summary>
/// SYNC, in one of two forms (giving both is validation_failed: they are two cursors, and no answer could move both).
/// <c>after_id</c>: every message of the caller's chats after it, ascending by id, as NEW_MESSAGE (edited text,
/// deleted ones left out), then SYNC_DONE {last_id}. <c>after_seq</c>: every change of the caller's chats after it, in
/// seq order, each message once in its latest state as NEW_MESSAGE, MESSAGE_EDITED or MESSAGE_DELETED, then
/// SYNC_DONE {last_seq}.
/// </summary>
public sealed class Sync(NpgsqlDataSource dataSource) : Command<SyncPayload>
{
    public const int DefaultLimit = 500;
    public const int MaxLimit = 1000;

    public override string Name => Protocol.Sync;

    protected override JsonTypeInfo<SyncPayload> PayloadJson => SyncJson.Default.SyncPayload;

    protected override string? Validate(SyncPayload payload) =>
        payload.AfterId is not null && payload.AfterSeq is not null ? "Give payload.after_id or payload.after_seq, not both." :
        (payload.AfterId ?? payload.AfterSeq) is null or < 0 || payload.Limit is < 1 or > MaxLimit
            ? $"payload.after_id (or payload.after_seq) must be 0 or more and payload.limit between 1 and {MaxLimit}."
            : null;

    protected override async Task HandleAsync(CommandContext context, SyncPayload payload, CancellationToken ct)
    {
        var limit = payload.Limit ?? DefaultLimit;
        List<ReadOnlyMemory<byte>> frames;
        if (payload.AfterSeq is { } afterSeq)
        {
            var (page, hasMore) = await MessageSync.ChangesAsync(dataSource, context.UserId, afterSeq, limit, ct);
            frames = new(page.Count + 1);
            frames.AddRange(page.Select(FrameOf));
            frames.Add(Frames.Encode(new SyncDoneFrame(null, page.Count > 0 ? page[^1].Message.Seq : afterSeq, hasMore)));
        }
        else
        {
            var afterId = payload.AfterId!.Value;
            var (page, hasMore) = await MessageSync.PageAsync(dataSource, context.UserId, afterId, limit, ct);
            frames = new(page.Count + 1);
            frames.AddRange(page.Select(m => Frames.Encode(NewMessageFrame.From(m))));
            frames.Add(Frames.Encode(new SyncDoneFrame(page.Count > 0 ? page[^1].Id : afterId, null, hasMore)));
        }
        // One entry of the connection's queue: the page goes out whole and in order, under the byte bound.
        context.Connection.Reply(frames);
    }

    private static ReadOnlyMemory<byte> FrameOf(SyncChange change)
    {
        var m = change.Message;
        return change.Kind switch
        {
            ChangeKind.New => Frames.Encode(NewMessageFrame.From(m)),
            ChangeKind.Edited => Frames.Encode(new MessageEditedFrame(m.Id, m.ChatId, m.Text, m.EditedAt!.Value, m.Seq)),
            _ => Frames.Encode(new MessageDeletedFrame(m.Id, m.ChatId, m.Seq)),
        };
    }
}
