using WinDi.Api.Chats;

namespace WinDi.Api.Messages;

public sealed class Message
{
    public const int MaxTextLength = 500;
    public const int MaxClientMessageIdLength = 100;

    public long Id { get; set; }
    public long ChatId { get; set; }
    public long SenderId { get; set; }
    public required string Text { get; set; }

    /// <summary>The sender's idempotency key; unique per sender.</summary>
    public required string ClientMessageId { get; set; }
    public DateTime CreatedAt { get; set; }

    public Chat Chat { get; set; } = null!;
}
