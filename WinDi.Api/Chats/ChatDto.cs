using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Data;
using WinDi.Api.Messages;
using WinDi.Api.Realtime;

namespace WinDi.Api.Chats;

/// <summary>
/// A person in a chat. <c>online</c>: they hold a WebSocket on some replica now (<see cref="Presence"/>);
/// <c>last_seen</c>: Unix seconds of when they were last connected (their last disconnect; while online, their latest
/// connect or renewal, at most <see cref="LastSeenOptions.RecordEvery"/> old), null for someone who never connected.
/// </summary>
public sealed record MemberDto(long Id, string Name, bool Online, long? LastSeen)
{
    public static MemberDto Of(long id, string name, PresenceSnapshot seen) =>
        new(id, name, seen.Online.Contains(id), seen.LastSeen.GetValueOrDefault(id) is { } at ? MessageDto.UnixSeconds(at) : null);
}

/// <summary>Who of some people is online, and when each was last seen.</summary>
public sealed record PresenceSnapshot(IReadOnlySet<long> Online, Dictionary<long, DateTime?> LastSeen)
{
    /// <summary>
    /// Online first, then last_seen: a disconnect is written before its connection's lease is given back, so whoever
    /// this finds offline has their disconnect in what it reads next (read the other way round, someone could show
    /// offline with the older time they connected).
    /// </summary>
    public static async Task<PresenceSnapshot> LookUpAsync(WinDiDb db, Presence presence, IEnumerable<long> ids, CancellationToken ct)
    {
        var people = ids.Distinct().ToList();
        var online = await presence.OnlineAsync(people, ct);
        var lastSeen = people.Count == 0 ? [] : await db.Users.Where(u => people.Contains(u.Id))
            .Select(u => new { u.Id, u.LastSeen }).ToDictionaryAsync(u => u.Id, u => u.LastSeen, ct);
        return new(online, lastSeen);
    }
}

public sealed record ChatDto(long Id, string? Name, bool IsGroup, MessageDto? LastMessage, int UnreadCount)
{
    /// <summary>Present on <c>GET /chats/{id}</c> only.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<MemberDto>? Members { get; init; }

    /// <summary>A private chat's other person (even after they left it), with their presence; absent for groups.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MemberDto? Peer { get; init; }
}

public static class ChatQueries
{
    private sealed record Person(long Id, string Name);

    private sealed record ChatRow(long Id, string? Name, bool IsGroup, Person? Other, DateTime CreatedAt, DateTime? LastAt, MessageDto? LastMessage, int UnreadCount);

    /// <summary>The caller's chats, most recent activity (last message, or creation) first, each private one with its peer's presence.</summary>
    public static async Task<List<ChatDto>> ListAsync(WinDiDb db, NpgsqlDataSource dataSource, Presence presence, long me, CancellationToken ct)
    {
        var rows = await RowsAsync(dataSource, me, chatId: null, ct);
        var peers = await PresenceSnapshot.LookUpAsync(db, presence, rows.Where(r => !r.IsGroup && r.Other is not null).Select(r => r.Other!.Id), ct);
        return [.. rows
            .OrderByDescending(r => r.LastAt ?? r.CreatedAt).ThenByDescending(r => r.Id)
            .Select(r => ToDto(r, peers))];
    }

    /// <summary>One of the caller's chats with its members and their presence (one lookup for all); null when the caller is not in it.</summary>
    public static async Task<ChatDto?> GetAsync(WinDiDb db, NpgsqlDataSource dataSource, Presence presence, long me, long chatId, CancellationToken ct)
    {
        var row = (await RowsAsync(dataSource, me, chatId, ct)).SingleOrDefault();
        if (row is null)
        {
            return null;
        }
        var members = await db.ChatMembers.Where(m => m.ChatId == chatId).OrderBy(m => m.JoinedAt).ThenBy(m => m.UserId)
            .Select(m => new Person(m.UserId, m.User.Name)).AsNoTracking().ToListAsync(ct);
        var ids = members.Select(m => m.Id);
        var people = await PresenceSnapshot.LookUpAsync(db, presence, row.Other is { } peer ? ids.Append(peer.Id) : ids, ct);
        return ToDto(row, people) with { Members = [.. members.Select(m => MemberDto.Of(m.Id, m.Name, people))] };
    }

    private static ChatDto ToDto(ChatRow r, PresenceSnapshot people) =>
        new(r.Id, r.Name ?? (r.IsGroup ? null : r.Other?.Name), r.IsGroup, r.LastMessage, r.UnreadCount)
        {
            Peer = r.IsGroup || r.Other is null ? null : MemberDto.Of(r.Other.Id, r.Other.Name, people),
        };

    /// <summary>
    /// The caller's chats (<c>$1</c>), each with what the list shows, one index probe or short index range per chat:
    /// the chat by its key (a LATERAL with LIMIT, so that the planner probes it per membership instead of reading every
    /// chat), a private chat's other person (even after they left it: its name when none was given), the last message
    /// not deleted (the top of the chat's range of the index of messages not deleted, ix_messages_live_chat_id_id) with
    /// its is_read, and the unread count, exact: the messages not deleted after the caller's read marker that others
    /// sent, counted from that index alone (it includes sender_id), so a count costs its unread entries, not their rows.
    /// Deleted messages are not there: not the last message, not unread, not activity.
    /// </summary>
    private static string RowsSql(string where) => $"""
        SELECT c.id, c.name, c.is_group, c.created_at, p.id, p.name,
               l.id, l.sender_id, l.text, l.client_message_id, l.created_at, l.edited_at, l.seq, {ReadReceipts.IsReadSql("l")},
               (SELECT count(*)::int FROM messages u
                WHERE u.chat_id = cm.chat_id AND u.deleted_at IS NULL AND u.id > cm.last_read_message_id AND u.sender_id <> cm.user_id)
        FROM chat_members cm
        CROSS JOIN LATERAL (
            SELECT c.id, c.name, c.is_group, c.created_at, c.private_low_user_id, c.private_high_user_id
            FROM chats c WHERE c.id = cm.chat_id LIMIT 1) c
        LEFT JOIN users p ON NOT c.is_group
            AND p.id = CASE WHEN c.private_low_user_id = cm.user_id THEN c.private_high_user_id ELSE c.private_low_user_id END
        LEFT JOIN LATERAL (
            SELECT m.id, m.chat_id, m.sender_id, m.text, m.client_message_id, m.created_at, m.edited_at, m.seq
            FROM messages m WHERE m.chat_id = cm.chat_id AND m.deleted_at IS NULL ORDER BY m.id DESC LIMIT 1) l ON true
        WHERE {where}
        """;

    /// <summary>GET /chats: every chat of user <c>$1</c>.</summary>
    public static readonly string ListSql = RowsSql("cm.user_id = $1");

    /// <summary>GET /chats/{id}: chat <c>$2</c> if user <c>$1</c> is in it.</summary>
    public static readonly string OneSql = RowsSql("cm.user_id = $1 AND cm.chat_id = $2");

    private static async Task<List<ChatRow>> RowsAsync(NpgsqlDataSource dataSource, long me, long? chatId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(chatId is null ? ListSql : OneSql);
        command.Parameters.Add(new NpgsqlParameter { Value = me, NpgsqlDbType = NpgsqlDbType.Bigint });
        if (chatId is { } only)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = only, NpgsqlDbType = NpgsqlDbType.Bigint });
        }
        var rows = new List<ChatRow>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetInt64(0);
            var last = reader.IsDBNull(6) ? null : new MessageDto(reader.GetInt64(6), id, reader.GetInt64(7), reader.GetString(8), reader.GetString(9),
                MessageDto.UnixSeconds(reader.GetDateTime(10)), reader.GetBoolean(13),
                MessageDto.UnixSeconds(reader.IsDBNull(11) ? null : reader.GetDateTime(11)), reader.GetInt64(12));
            rows.Add(new ChatRow(id, reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetBoolean(2),
                reader.IsDBNull(4) ? null : new Person(reader.GetInt64(4), reader.GetString(5)),
                reader.GetDateTime(3), last is null ? null : reader.GetDateTime(10), last, reader.GetInt32(14)));
        }
        return rows;
    }
}
