using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Data;

namespace WinDi.Api.Messages;

public enum SendStatus { Created, Duplicate, ChatNotFound, NotAMember }

/// <param name="Recipients">Every member of the chat when the message was stored; null for a duplicate.</param>
public sealed record SendResult(SendStatus Status, MessageDto? Message = null, long[]? Recipients = null);

public enum ReadStatus { Read, MessageNotFound, NotAMember, OwnMessage }

public sealed record ReadResult(ReadStatus Status, long ChatId = 0, long SenderId = 0, bool IsRead = false);

/// <summary>The message writes of the WebSocket gateway, each one database round trip on the happy path.</summary>
public sealed class MessageStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Serializes message inserts from id assignment to commit, so ids become visible in id order and
    /// SYNC (id &gt; after_id) can never skip a message that commits late. The lock is taken and released
    /// inside one implicit transaction on the server: it is held for an insert and a commit, never
    /// across a network round trip.
    /// </summary>
    public const long MessageOrderLock = 0x57_69_6E_44_69; // "WinDi"

    private const string InsertSql = """
        WITH members AS (
            SELECT user_id FROM chat_members WHERE chat_id = $1
        ), inserted AS (
            INSERT INTO messages (chat_id, sender_id, text, client_message_id, created_at)
            SELECT $1, $2, $3, $4, now()
            WHERE EXISTS (SELECT 1 FROM members WHERE user_id = $2)
            ON CONFLICT (sender_id, client_message_id) DO NOTHING
            RETURNING id, chat_id, sender_id, text, client_message_id, created_at
        )
        SELECT i.id, i.chat_id, i.sender_id, i.text, i.client_message_id, i.created_at,
               NOT EXISTS (SELECT 1 FROM members WHERE user_id <> $2) AS is_read,
               ARRAY(SELECT user_id FROM members) AS recipients
        FROM inserted i
        UNION ALL
        SELECT m.id, m.chat_id, m.sender_id, m.text, m.client_message_id, m.created_at,
               NOT EXISTS (SELECT 1 FROM chat_members o
                           WHERE o.chat_id = m.chat_id AND o.user_id <> m.sender_id AND o.last_read_message_id < m.id),
               NULL
        FROM messages m
        WHERE m.sender_id = $2 AND m.client_message_id = $4 AND NOT EXISTS (SELECT 1 FROM inserted)
        """;

    public async Task<SendResult> SendAsync(long chatId, long senderId, string text, string clientMessageId, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock($1)") { Parameters = { new() { Value = MessageOrderLock } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(InsertSql)
        {
            Parameters =
            {
                new() { Value = chatId, NpgsqlDbType = NpgsqlDbType.Bigint },
                new() { Value = senderId, NpgsqlDbType = NpgsqlDbType.Bigint },
                new() { Value = text, NpgsqlDbType = NpgsqlDbType.Varchar },
                new() { Value = clientMessageId, NpgsqlDbType = NpgsqlDbType.Varchar },
            },
        });

        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            await reader.NextResultAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                var message = new MessageDto(
                    reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4),
                    MessageDto.UnixSeconds(reader.GetDateTime(5)), reader.GetBoolean(6));
                return reader.IsDBNull(7)
                    ? new SendResult(SendStatus.Duplicate, message)
                    : new SendResult(SendStatus.Created, message, reader.GetFieldValue<long[]>(7));
            }
        }

        // The error path may cost a second round trip: tell a missing chat from a chat the sender is not in.
        await using var exists = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM chats WHERE id = $1)");
        exists.Parameters.Add(new() { Value = chatId });
        return (bool)(await exists.ExecuteScalarAsync(ct))! ? new SendResult(SendStatus.NotAMember) : new SendResult(SendStatus.ChatNotFound);
    }

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
