using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
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
    public static async Task<List<ChatDto>> ListAsync(WinDiDb db, Presence presence, long me, CancellationToken ct)
    {
        var rows = await RowsAsync(db, me, chatId: null, ct);
        var peers = await PresenceSnapshot.LookUpAsync(db, presence, rows.Where(r => !r.IsGroup && r.Other is not null).Select(r => r.Other!.Id), ct);
        return [.. rows
            .OrderByDescending(r => r.LastAt ?? r.CreatedAt).ThenByDescending(r => r.Id)
            .Select(r => ToDto(r, peers))];
    }

    /// <summary>One of the caller's chats with its members and their presence (one lookup for all); null when the caller is not in it.</summary>
    public static async Task<ChatDto?> GetAsync(WinDiDb db, Presence presence, long me, long chatId, CancellationToken ct)
    {
        var row = (await RowsAsync(db, me, chatId, ct)).SingleOrDefault();
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

    private static Task<List<ChatRow>> RowsAsync(WinDiDb db, long me, long? chatId, CancellationToken ct)
    {
        var memberships = db.ChatMembers.Where(cm => cm.UserId == me);
        if (chatId is { } id)
        {
            memberships = memberships.Where(cm => cm.ChatId == id);
        }
        return memberships
            .Select(cm => new ChatRow(
                cm.Chat.Id,
                cm.Chat.Name,
                cm.Chat.IsGroup,
                // A private chat is about the other person (its name when none was given), even after they left it.
                db.Users.Where(u => u.Id == (cm.Chat.PrivateLowUserId == me ? cm.Chat.PrivateHighUserId : cm.Chat.PrivateLowUserId))
                    .Select(u => new Person(u.Id, u.Name)).FirstOrDefault(),
                cm.Chat.CreatedAt,
                // Deleted messages are not there: not the last message, not unread, not activity.
                cm.Chat.Messages.Where(m => m.DeletedAt == null).OrderByDescending(m => m.Id).Select(m => (DateTime?)m.CreatedAt).FirstOrDefault(),
                cm.Chat.Messages.AsQueryable().Where(m => m.DeletedAt == null).OrderByDescending(m => m.Id).Take(1).Select(MessageDto.FromMessage).FirstOrDefault(),
                cm.Chat.Messages.Count(m => m.Id > cm.LastReadMessageId && m.SenderId != me && m.DeletedAt == null)))
            .AsNoTracking()
            .ToListAsync(ct);
    }
}
