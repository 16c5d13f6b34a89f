using Npgsql;
using NpgsqlTypes;

namespace WinDi.Api.Messages;

public enum ReadStatus { Read, MessageNotFound, NotAMember, OwnMessage }

/// <param name="Moved">Whether the reader's marker moved; a read that moves nothing tells nobody anything.</param>
public sealed record ReadResult(ReadStatus Status, long ChatId = 0, long SenderId = 0, bool IsRead = false, bool Moved = false);

/// <summary>
/// Read markers and the <c>is_read</c> rule of the original task: a message is read once no other current member
/// of its chat has a read marker below it (in a private chat, that is the recipient; in a group, every other
/// member at the time it is asked). The raw statements use <see cref="IsReadSql"/>; EF Core queries use
/// <see cref="MessageDto.FromMessage"/>, the same rule in LINQ. A deleted message cannot be read (message_not_found).
/// </summary>
public sealed class ReadReceipts(NpgsqlDataSource dataSource)
{
    /// <summary>The rule as an SQL boolean for the message row aliased <paramref name="message"/>.</summary>
    public static string IsReadSql(string message) => $"""
        NOT EXISTS (SELECT 1 FROM chat_members o
                    WHERE o.chat_id = {message}.chat_id AND o.user_id <> {message}.sender_id AND o.last_read_message_id < {message}.id)
        """;

    /// <summary>
    /// Three statements in one batch (one round trip, one implicit transaction). Reads of one chat take its
    /// row lock first (NO KEY UPDATE: inserting messages and members, which only key-share the row, goes on),
    /// so they commit one after the other; and the last statement takes a snapshot of its own, after the
    /// lock, so it sees every marker committed before it. When the last two readers of a group message read
    /// at the same moment, the second one's answer therefore counts the first one's marker: it says read.
    /// </summary>
    private static readonly string[] ReadSql =
    [
        """
        SELECT c.id FROM messages t JOIN chats c ON c.id = t.chat_id WHERE t.id = $1 AND t.deleted_at IS NULL FOR NO KEY UPDATE OF c
        """,
        """
        UPDATE chat_members cm SET last_read_message_id = t.id
        FROM messages t
        WHERE t.id = $1 AND t.deleted_at IS NULL AND cm.chat_id = t.chat_id AND cm.user_id = $2 AND t.sender_id <> $2 AND cm.last_read_message_id < t.id
        """,
        $"""
        SELECT t.chat_id, t.sender_id,
               EXISTS (SELECT 1 FROM chat_members WHERE chat_id = t.chat_id AND user_id = $2) AS is_member,
               {IsReadSql("t")} AS is_read
        FROM messages t WHERE t.id = $1 AND t.deleted_at IS NULL
        """,
    ];

    /// <summary>Moves the reader's marker forward to <paramref name="messageId"/> (never back), in one round trip.</summary>
    public async Task<ReadResult> MarkReadAsync(long messageId, long readerId, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        foreach (var sql in ReadSql)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(sql)
            {
                Parameters =
                {
                    new() { Value = messageId, NpgsqlDbType = NpgsqlDbType.Bigint },
                    new() { Value = readerId, NpgsqlDbType = NpgsqlDbType.Bigint },
                },
            });
        }
        // The first statement uses only $1; PostgreSQL refuses a parameter a statement does not use.
        batch.BatchCommands[0].Parameters.RemoveAt(1);
        await using var reader = await batch.ExecuteReaderAsync(ct);
        // From the lock's rows to the last statement's: the reader skips the UPDATE, which returns none.
        await reader.NextResultAsync(ct);
        var moved = batch.BatchCommands[1].RecordsAffected > 0;
        if (!await reader.ReadAsync(ct))
        {
            return new ReadResult(ReadStatus.MessageNotFound);
        }
        var (chatId, senderId, isMember, isRead) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetBoolean(2), reader.GetBoolean(3));
        return !isMember ? new ReadResult(ReadStatus.NotAMember)
            : senderId == readerId ? new ReadResult(ReadStatus.OwnMessage)
            : new ReadResult(ReadStatus.Read, chatId, senderId, isRead, moved);
    }
}
