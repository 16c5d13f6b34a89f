using WinDi.Api.Users;

namespace WinDi.Api.Chats;

public sealed class ChatMember
{
    public long ChatId { get; set; }
    public long UserId { get; set; }

    /// <summary>The member has read every message up to this id; it only moves forward.</summary>
    public long LastReadMessageId { get; set; }
    public DateTime JoinedAt { get; set; }

    public Chat Chat { get; set; } = null!;
    public User User { get; set; } = null!;
}
