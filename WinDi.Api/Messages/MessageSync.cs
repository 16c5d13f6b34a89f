using Microsoft.EntityFrameworkCore;
using WinDi.Api.Data;

namespace WinDi.Api.Messages;

/// <summary>What SYNC returns: complete because ids become visible in order (<see cref="VisibleOrder"/>).</summary>
public static class MessageSync
{
    /// <summary>Messages of the user's chats after <paramref name="afterId"/>, ascending; one more than asked tells whether there are more.</summary>
    public static async Task<(List<MessageDto> Page, bool HasMore)> PageAsync(WinDiDb db, long userId, long afterId, int limit, CancellationToken ct)
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
