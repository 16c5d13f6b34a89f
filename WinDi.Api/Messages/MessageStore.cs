using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Data;

namespace WinDi.Api.Messages;

public enum ReadStatus { Read, MessageNotFound, NotAMember, OwnMessage }

public sealed record ReadResult(ReadStatus Status, long ChatId = 0, long SenderId = 0, bool IsRead = false);

/// <summary>Read receipts and SYNC, each one database round trip.</summary>
public sealed class MessageStore(NpgsqlDataSource dataSource)
{
    private const string ReadSql = """
        WITH target AS (
            SELECT id, chat_id, sender_id FROM messages WHERE id = $1
        ), marked AS (
            UPDATE chat_members cm SET last_read_message_id = t.id
            FROM target t
            WHERE cm.chat_id = t.chat_id AND cm.user_id = $2 AND t.sender_id <> $2 AND cm.last_read_message_id < t.id
        )
        SELECT t.chat_id, t.sender_id,
               EXISTS (SELECT 1 FROM chat_members WHERE chat_id = t.chat_id AND user_id = $2) AS is_member,
               -- The update above is not visible to this statement, so the reader counts as having read.
               NOT EXISTS (SELECT 1 FROM chat_members o
                           WHERE o.chat_id = t.chat_id AND o.user_id NOT IN (t.sender_id, $2) AND o.last_read_message_id < t.id) AS is_read
        FROM target t
        """;

    /// <summary>Moves the reader's marker forward to <paramref name="messageId"/> (never back) in one statement.</summary>
    public async Task<ReadResult> MarkReadAsync(long messageId, long readerId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(ReadSql);
        command.Parameters.Add(new() { Value = messageId, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new() { Value = readerId, NpgsqlDbType = NpgsqlDbType.Bigint });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return new ReadResult(ReadStatus.MessageNotFound);
        }
        var (chatId, senderId, isMember, isRead) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetBoolean(2), reader.GetBoolean(3));
        return !isMember ? new ReadResult(ReadStatus.NotAMember)
            : senderId == readerId ? new ReadResult(ReadStatus.OwnMessage)
            : new ReadResult(ReadStatus.Read, chatId, senderId, isRead);
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
