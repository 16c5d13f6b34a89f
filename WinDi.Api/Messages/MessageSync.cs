using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Data;

namespace WinDi.Api.Messages;

/// <summary>How a change since a client's <c>after_seq</c> reaches it: the frame it would have been delivered live as.</summary>
public enum ChangeKind { New, Edited, Deleted }

/// <summary>One message's latest state, and what it is to a client that has seen every change up to <c>after_seq</c>.</summary>
public sealed record SyncChange(ChangeKind Kind, MessageDto Message);

/// <summary>What SYNC returns: complete because ids and seqs become visible in order (<see cref="VisibleOrder"/>).</summary>
public static class MessageSync
{
    /// <summary>
    /// Messages of the user's chats after <paramref name="afterId"/>, ascending, as they are now (edited text; deleted
    /// ones left out); one more than asked tells whether there are more.
    /// </summary>
    public static async Task<(List<MessageDto> Page, bool HasMore)> PageAsync(WinDiDb db, long userId, long afterId, int limit, CancellationToken ct)
    {
        var page = await db.Messages
            .Where(m => m.Id > afterId && m.DeletedAt == null && db.ChatMembers.Any(cm => cm.ChatId == m.ChatId && cm.UserId == userId))
            .OrderBy(m => m.Id)
            .Take(limit + 1)
            .Select(MessageDto.FromMessage)
            .ToListAsync(ct);
        return Trimmed(page, limit);
    }

    /// <summary>
    /// The changes of the user's chats after <paramref name="afterSeq"/>, in seq order, each message once in its latest
    /// state. Each chat's changes are an index range of (chat_id, seq), read in seq order and stopped after
    /// <c>limit + 1</c>, from the index alone (the seqs); the first <c>limit + 1</c> seqs of all of them are the page,
    /// and only those rows are then read. So a user in many chats costs one short index probe per chat, and no chat
    /// is read further than one page of index entries, however far behind after_seq is (README "Edits and deletes":
    /// 1,000 chats of 10 million messages, 15–25 ms near the head, 120–150 ms from 0).
    /// </summary>
    private static readonly string ChangesSql = $"""
        SELECT m.id, m.chat_id, m.sender_id, m.text, m.client_message_id, m.created_at, m.edited_at, m.seq,
               m.deleted_at IS NOT NULL, coalesce(m.created_seq, m.seq) > $2, {ReadReceipts.IsReadSql("m")}
        FROM (
            SELECT cm.chat_id, x.seq
            FROM chat_members cm
            CROSS JOIN LATERAL (
                SELECT c.seq FROM messages c
                WHERE c.chat_id = cm.chat_id AND c.seq > $2
                ORDER BY c.seq
                LIMIT $3
            ) x
            WHERE cm.user_id = $1
            ORDER BY x.seq
            LIMIT $3
        ) page
        JOIN messages m ON m.chat_id = page.chat_id AND m.seq = page.seq
        ORDER BY m.seq
        """;

    /// <summary>
    /// A message created after after_seq comes as new (with its latest text), one created before and changed since as
    /// edited, and one deleted since (whenever it was created) as deleted; one more than asked tells whether there are more.
    /// </summary>
    public static async Task<(List<SyncChange> Page, bool HasMore)> ChangesAsync(NpgsqlDataSource dataSource, long userId, long afterSeq, int limit, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(ChangesSql);
        command.Parameters.Add(new NpgsqlParameter { Value = userId, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = afterSeq, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = limit + 1, NpgsqlDbType = NpgsqlDbType.Integer });
        var page = new List<SyncChange>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var message = new MessageDto(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4),
                MessageDto.UnixSeconds(reader.GetDateTime(5)), reader.GetBoolean(10),
                MessageDto.UnixSeconds(reader.IsDBNull(6) ? null : reader.GetDateTime(6)), reader.GetInt64(7));
            var kind = reader.GetBoolean(8) ? ChangeKind.Deleted : reader.GetBoolean(9) ? ChangeKind.New : ChangeKind.Edited;
            page.Add(new SyncChange(kind, message));
        }
        return Trimmed(page, limit);
    }

    private static (List<T> Page, bool HasMore) Trimmed<T>(List<T> page, int limit)
    {
        var hasMore = page.Count > limit;
        if (hasMore)
        {
            page.RemoveAt(page.Count - 1);
        }
        return (page, hasMore);
    }
}
