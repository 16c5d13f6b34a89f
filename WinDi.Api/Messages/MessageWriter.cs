using System.Diagnostics;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Realtime;

namespace WinDi.Api.Messages;

public enum SendStatus { Created, Duplicate, ChatNotFound, NotAMember }

/// <param name="Recipients">Every member of the chat when the message was stored; null for a duplicate.</param>
public sealed record SendResult(SendStatus Status, MessageDto? Message = null, long[]? Recipients = null);

/// <summary>
/// Stores messages, with group commit. Ids must become visible in id order (<see cref="VisibleOrder"/>), so each
/// transaction holds a lock from id assignment to commit, and every commit waits for its own WAL flush in turn.
/// So one writer per node sends every send that arrives while its previous batch is in the database as the next
/// batch: one lock, one statement, one commit for all of them. A lone send goes at once, in one round trip. The
/// queue needs no bound: each connection handles its frames one at a time, so it holds at most one send per
/// connection.
/// </summary>
public sealed partial class MessageWriter : IAsyncDisposable
{
    public const int MaxBatch = 256;

    private readonly NpgsqlDataSource dataSource;
    private readonly IEventRelay relay;
    private readonly ILogger<MessageWriter> logger;
    private readonly Channel<PendingSend> queue = Channel.CreateUnbounded<PendingSend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task writing;

    public MessageWriter(NpgsqlDataSource dataSource, IEventRelay relay, ILogger<MessageWriter> logger)
    {
        this.dataSource = dataSource;
        this.relay = relay;
        this.logger = logger;
        // Without the caller's execution context: the loop outlives whatever span is current here (the request
        // that first needed a writer), and batches or their database spans must never join that span's trace.
        using (ExecutionContext.SuppressFlow())
        {
            writing = Task.Run(WriteLoopAsync);
        }
    }

    public Task<SendResult> SendAsync(long chatId, long senderId, string text, string clientMessageId, CancellationToken ct)
    {
        var pending = new PendingSend(chatId, senderId, text, clientMessageId, Activity.Current?.Context ?? default);
        if (!queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(MessageWriter), "The node is shutting down.");
        }
        // A send whose connection goes away may still be stored; the client's retry finds it (idempotency).
        return pending.Result.Task.WaitAsync(ct);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingSend>(MaxBatch);
        while (await queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }
            await WriteAsync(batch);
            batch.Clear();
        }
    }

    /// <summary>
    /// Writes a batch. One the database refuses for a reason of its own (a <see cref="PostgresException"/> that is not
    /// transient: a constraint, an encoding rule) is written again as two halves, one after the other, down to the sends
    /// it refuses, so that only those fail and one client's bad send never fails another's. Nothing of a refused batch
    /// was stored (its statements run in one implicit transaction, and results are handed out only after it commits),
    /// so every send is still stored once; the halves keep the batch's order and the loop takes no new send until they
    /// are done, so ids keep the order of the sends. A refusal that is not about any one send costs 2n-1 attempts.
    /// </summary>
    private async Task WriteAsync(List<PendingSend> batch)
    {
        try
        {
            await WriteBatchAsync(batch);
        }
        catch (PostgresException e) when (!e.IsTransient && batch.Count > 1)
        {
            Log.BatchRefused(logger, batch.Count, e.SqlState);
            var half = batch.Count / 2;
            await WriteAsync(batch[..half]);
            await WriteAsync(batch[half..]);
        }
        catch (Exception e)
        {
            // Fail these sends (their clients get ERROR internal and may retry safely), keep the writer alive.
            Log.BatchFailed(logger, e, batch.Count);
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(e);
            }
        }
    }

    private static readonly string InsertSql = $"""
        WITH input AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[])
                WITH ORDINALITY AS i(chat_id, sender_id, text, client_message_id, n)
        ), inserted AS (
            INSERT INTO messages (chat_id, sender_id, text, client_message_id, created_at)
            SELECT i.chat_id, i.sender_id, i.text, i.client_message_id, now()
            FROM input i
            WHERE EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = i.chat_id AND m.user_id = i.sender_id)
            ORDER BY i.n
            ON CONFLICT (sender_id, client_message_id) DO NOTHING
            RETURNING id, chat_id, sender_id, text, client_message_id, created_at
        )
        SELECT i.n, m.id, m.chat_id, m.sender_id, m.text, m.client_message_id, m.created_at, m.created,
               CASE WHEN m.created THEN ARRAY(SELECT user_id FROM chat_members WHERE chat_id = m.chat_id) END,
               m.id IS NOT NULL AND {ReadReceipts.IsReadSql("m")},
               EXISTS (SELECT 1 FROM chats c WHERE c.id = i.chat_id)
        FROM input i
        LEFT JOIN LATERAL (
            SELECT x.id, x.chat_id, x.sender_id, x.text, x.client_message_id, x.created_at, true AS created
            FROM inserted x WHERE x.sender_id = i.sender_id AND x.client_message_id = i.client_message_id
            UNION ALL
            -- A repeat: the original, committed before this statement began (the lock orders them).
            SELECT d.id, d.chat_id, d.sender_id, d.text, d.client_message_id, d.created_at, false
            FROM messages d
            WHERE d.sender_id = i.sender_id AND d.client_message_id = i.client_message_id
              AND NOT EXISTS (SELECT 1 FROM inserted x WHERE x.sender_id = i.sender_id AND x.client_message_id = i.client_message_id)
        ) m ON true
        ORDER BY i.n
        """;

    private async Task WriteBatchAsync(List<PendingSend> batch)
    {
        using var activity = StartBatchActivity(batch);

        // A key repeated inside one batch is written once; the repeats get that result as duplicates.
        var unique = batch.DistinctBy(p => (p.SenderId, p.ClientMessageId)).ToList();
        await using var command = dataSource.CreateBatch();
        command.BatchCommands.Add(VisibleOrder.TakeLock());
        command.BatchCommands.Add(new NpgsqlBatchCommand(InsertSql)
        {
            Parameters =
            {
                new() { Value = unique.Select(p => p.ChatId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint },
                new() { Value = unique.Select(p => p.SenderId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint },
                new() { Value = unique.Select(p => p.Text).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                new() { Value = unique.Select(p => p.ClientMessageId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
            },
        });

        var results = new Dictionary<(long, string), SendResult>(unique.Count);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            await reader.NextResultAsync();
            while (await reader.ReadAsync())
            {
                var key = unique[(int)reader.GetInt64(0) - 1];
                results[(key.SenderId, key.ClientMessageId)] = reader.IsDBNull(1)
                    ? new SendResult(reader.GetBoolean(10) ? SendStatus.NotAMember : SendStatus.ChatNotFound)
                    : new SendResult(
                        reader.GetBoolean(7) ? SendStatus.Created : SendStatus.Duplicate,
                        new MessageDto(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4), reader.GetString(5),
                            MessageDto.UnixSeconds(reader.GetDateTime(6)), reader.GetBoolean(9)),
                        reader.IsDBNull(8) ? null : reader.GetFieldValue<long[]>(8));
            }
        }

        var answered = new HashSet<(long, string)>();
        foreach (var pending in batch)
        {
            var key = (pending.SenderId, pending.ClientMessageId);
            var result = results[key];
            var first = answered.Add(key);
            if (first && result.Status == SendStatus.Created)
            {
                // Published here, once stored, in batch order: not by the sender's connection, which may be
                // gone by now (closed, expired, shutting down). Every member's connections get it, the
                // sender's too; a retry of the same send is then only a duplicate, answered to the sender.
                Telemetry.MessagesStored.Add(1);
                await relay.PublishAsync(new RealtimeEvent(result.Recipients!, Frames.Encode(NewMessageFrame.From(result.Message!))), pending.Context, CancellationToken.None);
            }
            pending.Result.TrySetResult(first || result.Status != SendStatus.Created
                ? result
                : result with { Status = SendStatus.Duplicate, Recipients = null });
        }
    }

    /// <summary>
    /// The batch's span: a child of the first traced send it carries, with a link to every traced send it carries.
    /// A span has one parent, and one batch commits many sends, so this is the choice: a lone send, the usual
    /// case, is then one trace from its frame through this span and its database statement to the delivery;
    /// when many sends share the batch, it sits in the first one's trace, and the others find it by its link to
    /// them. A recorded send is preferred as the parent, so a sampler that follows parents keeps the batch.
    /// Without a listener this returns null before allocating anything.
    /// </summary>
    private static Activity? StartBatchActivity(List<PendingSend> batch)
    {
        if (!Telemetry.Source.HasListeners())
        {
            return null;
        }
        ActivityContext parent = default;
        List<ActivityLink>? links = null;
        foreach (var pending in batch)
        {
            if (pending.Context == default)
            {
                continue;
            }
            if (parent == default || (!IsRecorded(parent) && IsRecorded(pending.Context)))
            {
                parent = pending.Context;
            }
            (links ??= new List<ActivityLink>(batch.Count)).Add(new ActivityLink(pending.Context));
        }
        var activity = Telemetry.Source.StartActivity("message batch", ActivityKind.Internal, parent, links: links);
        activity?.SetTag("windi.batch.sends", batch.Count);
        return activity;

        static bool IsRecorded(ActivityContext context) => (context.TraceFlags & ActivityTraceFlags.Recorded) != 0;
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await writing;
    }

    private sealed record PendingSend(long ChatId, long SenderId, string Text, string ClientMessageId, ActivityContext Context)
    {
        public TaskCompletionSource<SendResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Storing a batch of {Count} message(s) failed")]
        public static partial void BatchFailed(ILogger logger, Exception exception, int count);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The database refused a batch of {Count} message(s) ({SqlState}); writing it again in halves to find the send(s) it refuses")]
        public static partial void BatchRefused(ILogger logger, int count, string sqlState);
    }
}
