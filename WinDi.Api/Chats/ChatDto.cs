using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using WinDi.Api.Data;
using WinDi.Api.Messages;
using WinDi.Api.Realtime;

namespace WinDi.Api.Chats;

/// <summary>
/// A person in a chat. <c>online</c>: they hold a WebSocket on some replica now (<see cref="Presence"/>);
/// <c>last_seen</c>: Unix seconds of when they were last connected, null while online and for someone never connected.
/// </summary>
public sealed record MemberDto(long Id, string Name, bool Online, long? LastSeen)
{
    public static MemberDto Of(long id, string name, DateTime? lastSeen, IReadOnlySet<long> online) => online.Contains(id)
        ? new(id, name, true, null)
        : new(id, name, false, lastSeen is { } seen ? MessageDto.UnixSeconds(seen) : null);
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
    private sealed record Person(long Id, string Name, DateTime? LastSeen);

    private sealed record ChatRow(long Id, string? Name, bool IsGroup, Person? Other, DateTime CreatedAt, DateTime? LastAt, MessageDto? LastMessage, int UnreadCount);

    /// <summary>The caller's chats, most recent activity (last message, or creation) first, each private one with its peer's presence.</summary>
    public static async Task<List<ChatDto>> ListAsync(WinDiDb db, Presence presence, long me, CancellationToken ct)
    {
        var rows = await RowsAsync(db, me, chatId: null, ct);
        var online = await presence.OnlineAsync(rows.Where(r => !r.IsGroup && r.Other is not null).Select(r => r.Other!.Id), ct);
        return [.. rows
            .OrderByDescending(r => r.LastAt ?? r.CreatedAt).ThenByDescending(r => r.Id)
            .Select(r => ToDto(r, online))];
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
            .Select(m => new Person(m.UserId, m.User.Name, m.User.LastSeen)).AsNoTracking().ToListAsync(ct);
        var people = members.Select(m => m.Id);
        var online = await presence.OnlineAsync(row.Other is { } peer ? people.Append(peer.Id) : people, ct);
        return ToDto(row, online) with { Members = [.. members.Select(m => MemberDto.Of(m.Id, m.Name, m.LastSeen, online))] };
    }

    private static ChatDto ToDto(ChatRow r, IReadOnlySet<long> online) =>
        new(r.Id, r.Name ?? (r.IsGroup ? null : r.Other?.Name), r.IsGroup, r.LastMessage, r.UnreadCount)
        {
            Peer = r.IsGroup || r.Other is null ? null : MemberDto.Of(r.Other.Id, r.Other.Name, r.Other.LastSeen, online),
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
                    .Select(u => new Person(u.Id, u.Name, u.LastSeen)).FirstOrDefault(),
                cm.Chat.CreatedAt,
                // Deleted messages are not there: not the last message, not unread, not activity.
                cm.Chat.Messages.Where(m => m.DeletedAt == null).OrderByDescending(m => m.Id).Select(m => (DateTime?)m.CreatedAt).FirstOrDefault(),
                cm.Chat.Messages.AsQueryable().Where(m => m.DeletedAt == null).OrderByDescending(m => m.Id).Take(1).Select(MessageDto.FromMessage).FirstOrDefault(),
                cm.Chat.Messages.Count(m => m.Id > cm.LastReadMessageId && m.SenderId != me && m.DeletedAt == null)))
            .AsNoTracking()
            .ToListAsync(ct);
    }
}
