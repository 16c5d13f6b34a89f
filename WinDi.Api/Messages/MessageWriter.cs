using System.Diagnostics;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Realtime;

namespace WinDi.Api.Messages;

/// <summary>
/// <see cref="Deleted"/>: a repeat of a send whose message has since been deleted (nothing is stored). <see cref="Failed"/>:
/// the database refused the send, or could not be reached (nothing is stored; it is safe to retry).
/// </summary>
public enum SendStatus { Created, Duplicate, Deleted, ChatNotFound, NotAMember, Failed }

/// <param name="Recipients">Every member of the chat when the message was stored; null for a duplicate.</param>
public sealed record SendResult(SendStatus Status, MessageDto? Message = null, long[]? Recipients = null);

public enum ChangeStatus { Edited, Deleted, MessageNotFound, NotAMember, Forbidden }

/// <param name="Seq">The change's seq when it was made; 0 when it was refused.</param>
public sealed record ChangeResult(ChangeStatus Status, long Seq = 0);

/// <summary>
/// Stores messages and their edits and deletes, with group commit. Ids and seqs must become visible in the order
/// they are assigned (<see cref="VisibleOrder"/>), so each transaction holds a lock from assignment to commit, and
/// every commit waits for its own WAL flush in turn. So one writer per node sends every send, edit and delete that
/// arrives while its previous batch is in the database as the next batch: one lock, one insert statement for the
/// sends and one update statement for the changes, one commit for all of them, in one round trip. A lone send goes
/// at once as the lock and the insert, as before edits existed. The writer also answers each send's connection, in the
/// order it stores them, with the batch's live events: a connection that sends while its earlier sends are stored
/// (pipelined) gets its answers, the echoes of its new messages among them, in the order it sent. The queue needs no
/// bound of its own: a connection
/// has at most <see cref="ClientConnection.MaxSendsInFlight"/> sends in it, or one edit or delete (every frame but a send
/// waits for the sends before it).
/// </summary>
public sealed partial class MessageWriter : IAsyncDisposable
{
    public const int MaxBatch = 256;

    private readonly NpgsqlDataSource dataSource;
    private readonly IEventRelay relay;
    private readonly ILogger<MessageWriter> logger;
    private readonly Channel<PendingWrite> queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
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

    /// <summary>
    /// Stores a message, idempotent per sender and client_message_id; then every member's connections get it (the
    /// sender's <paramref name="from"/> too). Any other result is answered to <paramref name="from"/> alone with the
    /// frame <paramref name="answer"/> gives for it, in its place among the events of its batch.
    /// </summary>
    /// <param name="answer">The answer's frame for a result other than <see cref="SendStatus.Created"/>.</param>
    public Task<SendResult> SendAsync(long chatId, long senderId, string text, string clientMessageId, ClientConnection from,
        Func<SendResult, ReadOnlyMemory<byte>> answer, CancellationToken ct)
    {
        var pending = new PendingSend(chatId, senderId, text, clientMessageId, from, answer, Activity.Current?.Context ?? default);
        Enqueue(pending);
        // A send whose connection goes away may still be stored; the client's retry finds it (idempotency).
        return pending.Result.Task.WaitAsync(ct);
    }

    /// <summary>
    /// Edits (<paramref name="text"/> given) or deletes (<paramref name="text"/> null) a message, if
    /// <paramref name="userId"/> sent it and is still in its chat; then every member's connections hear of it.
    /// </summary>
    public Task<ChangeResult> ChangeAsync(long messageId, long userId, string? text, CancellationToken ct)
    {
        var pending = new PendingChange(messageId, userId, text, Activity.Current?.Context ?? default);
        Enqueue(pending);
        return pending.Result.Task.WaitAsync(ct);
    }

    private void Enqueue(PendingWrite pending)
    {
        if (!queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(MessageWriter), "The node is shutting down.");
        }
    }

    /// <summary>
    /// Takes what is queued, in order, as the next batch. A batch changes each message at most once (one UPDATE
    /// statement changes a row once): a second edit or delete of the same message ends the batch and opens the next.
    /// </summary>
    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        var changed = new HashSet<long>();
        PendingWrite? next = null;
        while (next is not null || await queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && (next is not null || queue.Reader.TryRead(out next)))
            {
                if (next is PendingChange change && !changed.Add(change.MessageId))
                {
                    break;
                }
                batch.Add(next);
                next = null;
            }
            await WriteAsync(batch);
            batch.Clear();
            changed.Clear();
        }
    }

    /// <summary>
    /// Writes a batch. One the database refuses for a reason of its own (a <see cref="PostgresException"/> that is not
    /// transient: a constraint, an encoding rule) is written again as two halves, one after the other, down to the sends
    /// or changes it refuses, so that only those fail and one client's bad write never fails another's. Nothing of a
    /// refused batch was stored (its statements run in one implicit transaction, and results are handed out only after
    /// it commits), so every send is still stored once; the halves keep the batch's order and the loop takes no new
    /// write until they are done, so ids keep the order of the sends, and seqs that of the sends and then the changes
    /// of each batch. A refusal that is not about any one write costs 2n-1 attempts.
    /// </summary>
    private async Task WriteAsync(List<PendingWrite> batch)
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
            // Fail these writes (their clients get ERROR internal and may retry safely), keep the writer alive. A send is
            // answered here, in its place before the batches after it.
            Log.BatchFailed(logger, e, batch.Count);
            var failed = new SendResult(SendStatus.Failed);
            var answers = batch.OfType<PendingSend>().Select(send => send.AnswerWith(failed)).ToList();
            if (answers.Count > 0)
            {
                await relay.PublishAsync(answers, default, CancellationToken.None);
            }
            foreach (var pending in batch)
            {
                pending.Fail(e);
            }
        }
    }

    /// <summary>
    /// For the rest of the batch's transaction: plan the prepared statements once, not for each batch. PostgreSQL's plan
    /// cache otherwise keeps planning a statement anew while its plan for the parameters at hand looks cheaper than the
    /// generic one, which it does for a lone send (an array of one): planning the insert then cost 0.5 ms of the
    /// server's CPU a batch, more than running it (0.4 ms), and at 1,000 lone sends a second half a core. Larger batches
    /// settle on the generic plan by themselves; their execution is the same with it forced.
    /// </summary>
    internal const string GenericPlansSql = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)";

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
            RETURNING id, chat_id, sender_id, text, client_message_id, created_at, seq
        )
        -- The messages stored now, matched to their sends by key in the API (a join here, planned for an array of unknown
        -- length, was a nested loop over both: its cost grew with the square of the batch).
        SELECT NULL::bigint, x.id, x.chat_id, x.sender_id, x.text, x.client_message_id, x.created_at, true,
               ARRAY(SELECT user_id FROM chat_members WHERE chat_id = x.chat_id), NULL::boolean,
               true, NULL::timestamptz, false, x.seq
        FROM inserted x
        UNION ALL
        -- Every send as the database had it before this statement (its snapshot): a repeat finds its original as it is now
        -- (edited, or deleted), committed before (the lock orders them); a send stored now finds nothing here.
        SELECT i.n, d.id, d.chat_id, d.sender_id, d.text, d.client_message_id, d.created_at, false, NULL,
               d.id IS NOT NULL AND {ReadReceipts.IsReadSql("d")},
               EXISTS (SELECT 1 FROM chats c WHERE c.id = i.chat_id),
               d.edited_at, d.deleted_at IS NOT NULL, d.seq
        FROM input i
        -- LIMIT keeps this a lookup by the key's index for each send (there is one row at most): without it the join was
        -- planned as a whole, and a plan made while the table was nearly empty read all of it for every batch.
        LEFT JOIN LATERAL (
            SELECT * FROM messages d WHERE d.sender_id = i.sender_id AND d.client_message_id = i.client_message_id LIMIT 1) d ON true
        """;

    /// <summary>
    /// Edits (a text) and deletes (no text), each only by its sender while still in the chat, and only of a message not
    /// deleted yet; each change draws a new seq, and the first one keeps the creation's seq in created_seq. A delete
    /// overwrites the text: the row stays as a tombstone (its seq replays the delete in SYNC, its client_message_id
    /// keeps sends idempotent). Every statement of the batch has its own snapshot, taken after the lock: it sees every
    /// change committed before, and the sends of this batch.
    /// </summary>
    private const string ChangeSql = $"""
        WITH input AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY AS i(message_id, user_id, text, n)
        ), target AS (
            SELECT i.n, m.id, m.sender_id = i.user_id AS own,
                   EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = m.chat_id AND cm.user_id = i.user_id) AS is_member
            FROM input i JOIN messages m ON m.id = i.message_id AND m.deleted_at IS NULL
        ), changed AS (
            UPDATE messages m
            SET text = coalesce(i.text, ''),
                edited_at = CASE WHEN i.text IS NULL THEN m.edited_at ELSE now() END,
                deleted_at = CASE WHEN i.text IS NULL THEN now() END,
                created_seq = coalesce(m.created_seq, m.seq),
                seq = nextval('{Message.SeqSequence}')
            FROM input i JOIN target t ON t.n = i.n
            WHERE m.id = t.id AND t.own AND t.is_member
            RETURNING i.n, m.chat_id, m.text, m.edited_at, m.seq
        )
        SELECT i.n, t.n IS NOT NULL, coalesce(t.is_member, false), c.n IS NOT NULL,
               c.chat_id, c.text, c.edited_at, c.seq,
               CASE WHEN c.n IS NOT NULL THEN ARRAY(SELECT user_id FROM chat_members WHERE chat_id = c.chat_id) END
        FROM input i
        LEFT JOIN target t ON t.n = i.n
        LEFT JOIN changed c ON c.n = i.n
        ORDER BY i.n
        """;

    private async Task WriteBatchAsync(List<PendingWrite> batch)
    {
        using var activity = StartBatchActivity(batch, out var parent);

        // A key repeated inside one batch is written once; the repeats get that result as duplicates.
        var sends = batch.OfType<PendingSend>().ToList();
        var unique = sends.DistinctBy(p => (p.SenderId, p.ClientMessageId)).ToList();
        var changes = batch.OfType<PendingChange>().ToList();
        await using var command = dataSource.CreateBatch();
        command.BatchCommands.Add(VisibleOrder.TakeLock());
        command.BatchCommands.Add(new NpgsqlBatchCommand(GenericPlansSql));
        if (unique.Count > 0)
        {
            command.BatchCommands.Add(new NpgsqlBatchCommand(InsertSql)
            {
                Parameters =
                {
                    Array(unique.Select(p => p.ChatId)),
                    Array(unique.Select(p => p.SenderId)),
                    Array(unique.Select(p => p.Text)),
                    Array(unique.Select(p => p.ClientMessageId)),
                },
            });
        }
        if (changes.Count > 0)
        {
            command.BatchCommands.Add(new NpgsqlBatchCommand(ChangeSql)
            {
                Parameters = { Array(changes.Select(p => p.MessageId)), Array(changes.Select(p => p.UserId)), Array(changes.Select(p => p.Text)) },
            });
        }

        var results = new Dictionary<(long, string), SendResult>(unique.Count);
        var changeResults = new List<(ChangeResult Result, RealtimeEvent? Event)>(changes.Count);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            await reader.NextResultAsync(); // past the lock's row, to the plan setting's
            if (unique.Count > 0)
            {
                await reader.NextResultAsync();
                while (await reader.ReadAsync())
                {
                    // A send stored now has two rows, the message stored and the nothing found before it: the message wins.
                    if (reader.IsDBNull(0))
                    {
                        results[(reader.GetInt64(3), reader.GetString(5))] = ReadSend(reader);
                    }
                    else
                    {
                        var key = unique[(int)reader.GetInt64(0) - 1];
                        results.TryAdd((key.SenderId, key.ClientMessageId), ReadSend(reader));
                    }
                }
            }
            if (changes.Count > 0)
            {
                await reader.NextResultAsync();
                while (await reader.ReadAsync())
                {
                    changeResults.Add(ReadChange(reader, changes[(int)reader.GetInt64(0) - 1]));
                }
            }
        }

        // Everything below runs only once the batch has committed: the reader has been read to its end.
        var events = new List<RealtimeEvent>(unique.Count + changes.Count);
        var outcomes = new List<SendResult>(sends.Count);
        var answered = new HashSet<(long, string)>();
        foreach (var pending in sends)
        {
            var result = results[(pending.SenderId, pending.ClientMessageId)];
            if (!answered.Add((pending.SenderId, pending.ClientMessageId)) && result.Status == SendStatus.Created)
            {
                result = result with { Status = SendStatus.Duplicate, Recipients = null };
            }
            if (result.Status == SendStatus.Created)
            {
                // Published here, once stored, in batch order: not by the sender's connection, which may be
                // gone by now (closed, expired, shutting down). Every member's connections get it, the
                // sender's too; a retry of the same send is then only a duplicate, answered to the sender.
                Telemetry.MessagesStored.Add(1);
                events.Add(new RealtimeEvent(result.Recipients!, Frames.Encode(NewMessageFrame.From(result.Message!))));
            }
            else
            {
                events.Add(pending.AnswerWith(result));
            }
            outcomes.Add(result);
        }
        // The changes' seqs follow the sends' (their statement comes after), so they are published after them.
        foreach (var (_, change) in changeResults)
        {
            if (change is not null)
            {
                Telemetry.MessagesChanged.Add(1);
                events.Add(change);
            }
        }
        // The batch's events and answers go out together, in its order (one write to each connection, one envelope to the
        // other replicas), and before any result is handed out: whatever waits for a send finds it answered.
        if (events.Count > 0)
        {
            await relay.PublishAsync(events, parent, CancellationToken.None);
        }
        foreach (var (pending, outcome) in sends.Zip(outcomes))
        {
            pending.Result.TrySetResult(outcome);
        }
        foreach (var (pending, (result, _)) in changes.Zip(changeResults))
        {
            pending.Result.TrySetResult(result);
        }
    }

    private static NpgsqlParameter Array<T>(IEnumerable<T> values) => new()
    {
        Value = values.ToArray(),
        NpgsqlDbType = NpgsqlDbType.Array | (typeof(T) == typeof(long) ? NpgsqlDbType.Bigint : NpgsqlDbType.Text),
    };

    private static SendResult ReadSend(NpgsqlDataReader reader)
    {
        if (reader.IsDBNull(1))
        {
            return new SendResult(reader.GetBoolean(10) ? SendStatus.NotAMember : SendStatus.ChatNotFound);
        }
        var created = reader.GetBoolean(7);
        var status = created ? SendStatus.Created : reader.GetBoolean(12) ? SendStatus.Deleted : SendStatus.Duplicate;
        var senderId = reader.GetInt64(3);
        var recipients = created ? reader.GetFieldValue<long[]>(8) : null;
        // A message stored now has the highest id yet, and every read marker is the id of a message stored before (ids
        // become visible in order): every other member's marker is below it. So it is read when nobody else is in its chat.
        var isRead = created ? recipients.AsSpan().IndexOfAnyExcept(senderId) < 0 : reader.GetBoolean(9);
        var message = new MessageDto(reader.GetInt64(1), reader.GetInt64(2), senderId, reader.GetString(4), reader.GetString(5),
            MessageDto.UnixSeconds(reader.GetDateTime(6)), isRead,
            MessageDto.UnixSeconds(reader.IsDBNull(11) ? null : reader.GetDateTime(11)), reader.GetInt64(13));
        return new SendResult(status, message, recipients);
    }

    /// <summary>A change's result, and the event that tells every member's connections of it (null when refused).</summary>
    private static (ChangeResult, RealtimeEvent?) ReadChange(NpgsqlDataReader reader, PendingChange pending)
    {
        var (found, isMember, changed) = (reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3));
        if (!changed)
        {
            // Refused: an unknown or deleted message first (nothing about it is told), then not in its chat, then not the sender's.
            return (new ChangeResult(!found ? ChangeStatus.MessageNotFound : !isMember ? ChangeStatus.NotAMember : ChangeStatus.Forbidden), null);
        }
        var (chatId, seq, recipients) = (reader.GetInt64(4), reader.GetInt64(7), reader.GetFieldValue<long[]>(8));
        if (pending.Text is null)
        {
            return (new ChangeResult(ChangeStatus.Deleted, seq),
                new RealtimeEvent(recipients, Frames.Encode(new MessageDeletedFrame(pending.MessageId, chatId, seq))));
        }
        var frame = new MessageEditedFrame(pending.MessageId, chatId, reader.GetString(5), MessageDto.UnixSeconds(reader.GetDateTime(6)), seq);
        return (new ChangeResult(ChangeStatus.Edited, seq), new RealtimeEvent(recipients, Frames.Encode(frame)));
    }

    /// <summary>
    /// The batch's span: a child of the first traced send it carries, with a link to every traced send it carries.
    /// A span has one parent, and one batch commits many sends, so this is the choice: a lone send, the usual
    /// case, is then one trace from its frame through this span and its database statement to the delivery;
    /// when many sends share the batch, it sits in the first one's trace, and the others find it by its link to
    /// them. A recorded send is preferred as the parent, so a sampler that follows parents keeps the batch.
    /// Without a listener this returns null before allocating anything.
    /// </summary>
    /// <param name="parent">The span chosen as the batch's parent, which its relay publish is under too; default without a listener.</param>
    private static Activity? StartBatchActivity(List<PendingWrite> batch, out ActivityContext parent)
    {
        parent = default;
        if (!Telemetry.Source.HasListeners())
        {
            return null;
        }
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
        if (activity is not null)
        {
            var sends = batch.Count(p => p is PendingSend);
            activity.SetTag("windi.batch.sends", sends);
            activity.SetTag("windi.batch.changes", batch.Count - sends);
        }
        return activity;

        static bool IsRecorded(ActivityContext context) => (context.TraceFlags & ActivityTraceFlags.Recorded) != 0;
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await writing;
    }

    /// <summary>A send, edit or delete waiting in the queue, with the span of the frame that asked for it.</summary>
    private abstract record PendingWrite(ActivityContext Context)
    {
        public abstract void Fail(Exception e);
    }

    private sealed record PendingSend(long ChatId, long SenderId, string Text, string ClientMessageId, ClientConnection From,
        Func<SendResult, ReadOnlyMemory<byte>> Answer, ActivityContext Context) : PendingWrite(Context)
    {
        public TaskCompletionSource<SendResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The answer to the sender's connection for a result it does not learn from a live event.</summary>
        public RealtimeEvent AnswerWith(SendResult result) => RealtimeEvent.Answer(From, Answer(result));

        /// <summary>Answered already (<see cref="SendStatus.Failed"/>): the sender learns nothing more from the exception.</summary>
        public override void Fail(Exception e) => Result.TrySetResult(new SendResult(SendStatus.Failed));
    }

    /// <param name="Text">The new text of an edit; null for a delete.</param>
    private sealed record PendingChange(long MessageId, long UserId, string? Text, ActivityContext Context) : PendingWrite(Context)
    {
        public TaskCompletionSource<ChangeResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Fail(Exception e) => Result.TrySetException(e);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Storing a batch of {Count} write(s) (sends, edits, deletes) failed")]
        public static partial void BatchFailed(ILogger logger, Exception exception, int count);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The database refused a batch of {Count} write(s) ({SqlState}); writing it again in halves to find the one(s) it refuses")]
        public static partial void BatchRefused(ILogger logger, int count, string sqlState);
    }
}
