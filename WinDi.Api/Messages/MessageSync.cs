using Npgsql;
using NpgsqlTypes;

namespace WinDi.Api.Messages;

/// <summary>How a change since a client's <c>after_seq</c> reaches it: the frame it would have been delivered live as.</summary>
public enum ChangeKind { New, Edited, Deleted }

/// <summary>One message's latest state, and what it is to a client that has seen every change up to <c>after_seq</c>.</summary>
public sealed record SyncChange(ChangeKind Kind, MessageDto Message);

/// <summary>What SYNC returns: complete because ids and seqs become visible in order (<see cref="VisibleOrder"/>).</summary>
public static class MessageSync
{
    /// <summary>
    /// The first <c>$3</c> keys (<c>seq</c>, or the <c>id</c> of a message not deleted) after <c>$2</c> of all the chats of
    /// user <c>$1</c>, with their chats, read from each chat's index range (chat_id, key) alone. A chat's range is read
    /// further than <see cref="Reach"/> entries only where that can matter, so a page costs one short probe per chat plus
    /// at most a page's worth of entries per chat for a few chats, however far behind the cursor is:
    /// <list type="number">
    /// <item>Every chat gives its first <see cref="Reach"/> keys after the cursor (one index probe; the last of them, when
    /// there are that many, is the chat's marker).</item>
    /// <item><c>cut</c> is the <c>ceil($3 / Reach)</c>-th smallest marker. The chats whose marker is at most the cut each
    /// have <see cref="Reach"/> keys up to it, so at least <c>$3</c> keys of all the chats are at most the cut: the
    /// page ends at or before it.</item>
    /// <item>A chat whose marker is above the cut (or that has no marker) has every key up to the cut among the keys it
    /// gave. Only the chats at or below the cut (fewer than <c>$3 / Reach + 1</c>) read on, up to <c>$3</c> keys and no
    /// further than the cut.</item>
    /// </list>
    /// So the page is exactly the first <c>$3</c> keys after the cursor, as reading every chat up to <c>$3</c> keys gave
    /// (README "Cost as the data grows": from an old cursor, 1,000 chats of 10 million messages went from 1,000 chats
    /// times their changes after the cursor to 1,000 probes of 8 entries).
    /// </summary>
    private static string FirstKeysSql(string key, string rows) => $"""
        WITH firsts AS MATERIALIZED (
            SELECT cm.chat_id, ARRAY(
                SELECT c.{key} FROM messages c WHERE c.chat_id = cm.chat_id{rows} AND c.{key} > $2 ORDER BY c.{key} LIMIT {Reach}) AS keys
            FROM chat_members cm WHERE cm.user_id = $1
        ), cut AS (
            SELECT coalesce((SELECT keys[{Reach}] FROM firsts WHERE cardinality(keys) = {Reach}
                             ORDER BY keys[{Reach}] OFFSET ($3 + {Reach - 1}) / {Reach} - 1 LIMIT 1), {long.MaxValue}) AS key
        )
        SELECT f.chat_id, k.key FROM firsts f CROSS JOIN LATERAL unnest(f.keys) k(key)
        WHERE (cardinality(f.keys) < {Reach} OR f.keys[{Reach}] > (SELECT key FROM cut)) AND k.key <= (SELECT key FROM cut)
        UNION ALL
        SELECT f.chat_id, x.key FROM firsts f CROSS JOIN LATERAL (
            SELECT c.{key} AS key FROM messages c
            WHERE c.chat_id = f.chat_id{rows} AND c.{key} > $2 AND c.{key} <= (SELECT key FROM cut)
            ORDER BY c.{key} LIMIT $3) x
        WHERE cardinality(f.keys) = {Reach} AND f.keys[{Reach}] <= (SELECT key FROM cut)
        ORDER BY key
        LIMIT $3
        """;

    /// <summary>How many keys each chat gives before the cut decides which chats read on (see <see cref="FirstKeysSql"/>).</summary>
    private const int Reach = 8;

    /// <summary>
    /// SYNC after_id: messages of user <c>$1</c>'s chats with id &gt; <c>$2</c>, not deleted, ascending, at most
    /// <c>$3</c>; their ids come from the index of messages not deleted (chat_id, id), then only those rows are read.
    /// </summary>
    public static readonly string ByIdSql = $"""
        SELECT m.id, m.chat_id, m.sender_id, m.text, m.client_message_id, m.created_at, m.edited_at, m.seq, {ReadReceipts.IsReadSql("m")}
        FROM ({FirstKeysSql("id", " AND c.deleted_at IS NULL")}) page
        JOIN messages m ON m.id = page.key
        ORDER BY m.id
        """;

    /// <summary>
    /// Messages of the user's chats after <paramref name="afterId"/>, ascending, as they are now (edited text; deleted
    /// ones left out); one more than asked tells whether there are more.
    /// </summary>
    public static async Task<(List<MessageDto> Page, bool HasMore)> PageAsync(NpgsqlDataSource dataSource, long userId, long afterId, int limit, CancellationToken ct)
    {
        await using var command = Command(dataSource, ByIdSql, userId, afterId, limit);
        var page = new List<MessageDto>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            page.Add(Message(reader, isRead: 8));
        }
        return Trimmed(page, limit);
    }

    /// <summary>
    /// SYNC after_seq: the changes of user <c>$1</c>'s chats with seq &gt; <c>$2</c>, in seq order, at most <c>$3</c>;
    /// the seqs come from the index (chat_id, seq) alone, then only those rows are read.
    /// </summary>
    public static readonly string BySeqSql = $"""
        SELECT m.id, m.chat_id, m.sender_id, m.text, m.client_message_id, m.created_at, m.edited_at, m.seq,
               m.deleted_at IS NOT NULL, coalesce(m.created_seq, m.seq) > $2, {ReadReceipts.IsReadSql("m")}
        FROM ({FirstKeysSql("seq", "")}) page
        JOIN messages m ON m.chat_id = page.chat_id AND m.seq = page.key
        ORDER BY m.seq
        """;

    /// <summary>
    /// A message created after after_seq comes as new (with its latest text), one created before and changed since as
    /// edited, and one deleted since (whenever it was created) as deleted; one more than asked tells whether there are more.
    /// </summary>
    public static async Task<(List<SyncChange> Page, bool HasMore)> ChangesAsync(NpgsqlDataSource dataSource, long userId, long afterSeq, int limit, CancellationToken ct)
    {
        await using var command = Command(dataSource, BySeqSql, userId, afterSeq, limit);
        var page = new List<SyncChange>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var kind = reader.GetBoolean(8) ? ChangeKind.Deleted : reader.GetBoolean(9) ? ChangeKind.New : ChangeKind.Edited;
            page.Add(new SyncChange(kind, Message(reader, isRead: 10)));
        }
        return Trimmed(page, limit);
    }

    /// <summary>The columns both statements begin with: id, chat_id, sender_id, text, client_message_id, created_at, edited_at, seq.</summary>
    private static MessageDto Message(NpgsqlDataReader reader, int isRead) =>
        new(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4),
            MessageDto.UnixSeconds(reader.GetDateTime(5)), reader.GetBoolean(isRead),
            MessageDto.UnixSeconds(reader.IsDBNull(6) ? null : reader.GetDateTime(6)), reader.GetInt64(7));

    /// <summary>$1 the user, $2 the cursor, $3 one more than the limit (which tells whether there are more).</summary>
    private static NpgsqlCommand Command(NpgsqlDataSource dataSource, string sql, long userId, long after, int limit)
    {
        var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = userId, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = after, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = limit + 1, NpgsqlDbType = NpgsqlDbType.Integer });
        return command;
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
