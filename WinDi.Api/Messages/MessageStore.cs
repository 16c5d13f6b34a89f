using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Data;

namespace WinDi.Api.Messages;

public enum ReadStatus { Read, MessageNotFound, NotAMember, OwnMessage }

/// <param name="Moved">Whether the reader's marker moved; a read that moves nothing tells nobody anything.</param>
public sealed record ReadResult(ReadStatus Status, long ChatId = 0, long SenderId = 0, bool IsRead = false, bool Moved = false);

/// <summary>Read receipts and SYNC, each one database round trip.</summary>
public sealed class MessageStore(NpgsqlDataSource dataSource)
{
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
        SELECT c.id FROM messages t JOIN chats c ON c.id = t.chat_id WHERE t.id = $1 FOR NO KEY UPDATE OF c
        """,
        """
        UPDATE chat_members cm SET last_read_message_id = t.id
        FROM messages t
        WHERE t.id = $1 AND cm.chat_id = t.chat_id AND cm.user_id = $2 AND t.sender_id <> $2 AND cm.last_read_message_id < t.id
        """,
        $"""
        SELECT t.chat_id, t.sender_id,
               EXISTS (SELECT 1 FROM chat_members WHERE chat_id = t.chat_id AND user_id = $2) AS is_member,
               {ReadReceipts.IsReadSql("t")} AS is_read
        FROM messages t WHERE t.id = $1
        """,
    ];

    /// <summary>Moves the reader's marker forward to <paramref name="messageId"/> (never back).</summary>
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

    /// <summary>Messages of the user's chats after <paramref name="afterId"/>, ascending; one more than asked tells whether there are more.</summary>
    public static async Task<(List<MessageDto> Page, bool HasMore)> SyncAsync(WinDiDb db, long userId, long afterId, int limit, CancellationToken ct)
    {
        var page = await db.Messages
            .Where(m => m.Id > afterId && db.ChatMembers.Any(cm => cm.ChatId == m.ChatId && cm.UserId == userId))
            .OrderBy(m => m.Id)
            .Take(limit + 1)
            .Select(MessageDto.FromMessage)
            .ToListAsync(ct);
        var hasMore = page.Count > limit;
        if (hasMore)
        {
            page.RemoveAt(page.Count - 1);
        }
        return (page, hasMore);
    }
}
