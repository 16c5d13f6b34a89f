using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using WinDi.Api.Data;
using WinDi.Api.Messages;

namespace WinDi.Api.Chats;

public sealed record MemberDto(long Id, string Name);

public sealed record ChatDto(long Id, string? Name, bool IsGroup, MessageDto? LastMessage, int UnreadCount)
{
    /// <summary>Present on <c>GET /chats/{id}</c> only.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<MemberDto>? Members { get; init; }
}

public static class ChatQueries
{
    private sealed record ChatRow(long Id, string? Name, bool IsGroup, string? OtherName, DateTime CreatedAt, DateTime? LastAt, MessageDto? LastMessage, int UnreadCount);

    /// <summary>The caller's chats, most recent activity (last message, or creation) first.</summary>
    public static async Task<List<ChatDto>> ListAsync(WinDiDb db, long me, long? chatId, CancellationToken ct)
    {
        var memberships = db.ChatMembers.Where(cm => cm.UserId == me);
        if (chatId is { } id)
        {
            memberships = memberships.Where(cm => cm.ChatId == id);
        }
        var rows = await memberships
            .Select(cm => new ChatRow(
                cm.Chat.Id,
                cm.Chat.Name,
                cm.Chat.IsGroup,
                // A private chat without a name is called after the other person, even after they left it.
                db.Users.Where(u => u.Id == (cm.Chat.PrivateLowUserId == me ? cm.Chat.PrivateHighUserId : cm.Chat.PrivateLowUserId))
                    .Select(u => u.Name).FirstOrDefault(),
                cm.Chat.CreatedAt,
                // Deleted messages are not there: not the last message, not unread, not activity.
                cm.Chat.Messages.Where(m => m.DeletedAt == null).OrderByDescending(m => m.Id).Select(m => (DateTime?)m.CreatedAt).FirstOrDefault(),
                cm.Chat.Messages.AsQueryable().Where(m => m.DeletedAt == null).OrderByDescending(m => m.Id).Take(1).Select(MessageDto.FromMessage).FirstOrDefault(),
                cm.Chat.Messages.Count(m => m.Id > cm.LastReadMessageId && m.SenderId != me && m.DeletedAt == null)))
            .AsNoTracking()
            .ToListAsync(ct);

        return [.. rows
            .OrderByDescending(r => r.LastAt ?? r.CreatedAt).ThenByDescending(r => r.Id)
            .Select(r => new ChatDto(r.Id, r.Name ?? (r.IsGroup ? null : r.OtherName), r.IsGroup, r.LastMessage, r.UnreadCount))];
    }
}
