using WinDi.Api.Messages;

namespace WinDi.Api.Chats;

public sealed class Chat
{
    public long Id { get; set; }
    public string? Name { get; set; }
    public bool IsGroup { get; set; }

    /// <summary>For a private chat, the smaller and larger user id; a unique index on the pair allows one private chat per pair.</summary>
    public long? PrivateLowUserId { get; set; }
    public long? PrivateHighUserId { get; set; }
    public DateTime CreatedAt { get; set; }

    public List<ChatMember> Members { get; set; } = [];
    public List<Message> Messages { get; set; } = [];

    public static (long Low, long High) PrivatePair(long a, long b) => a < b ? (a, b) : (b, a);
}
