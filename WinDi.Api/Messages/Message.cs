using WinDi.Api.Chats;

namespace WinDi.Api.Messages;

public sealed class Message
{
    public const int MaxTextLength = 500;
    public const int MaxClientMessageIdLength = 100;

    /// <summary>The sequence every change a member must see draws its <see cref="Seq"/> from (<see cref="VisibleOrder"/>).</summary>
    public const string SeqSequence = "message_seq";

    /// <summary>What a message's text must be, after the field's name: the same rule for a send and an edit.</summary>
    public const string TextRule = "must be 1 to 500 characters and not blank";

    public long Id { get; set; }
    public long ChatId { get; set; }
    public long SenderId { get; set; }

    /// <summary>Empty once the message is deleted: the text is gone, the row stays as a tombstone.</summary>
    public required string Text { get; set; }

    /// <summary>The sender's idempotency key; unique per sender, kept after a delete so that a repeat stores nothing.</summary>
    public required string ClientMessageId { get; set; }
    public DateTime CreatedAt { get; set; }

    /// <summary>
    /// The place of this message's latest change (its creation, then each edit, then its delete) in the one sequence of
    /// changes of the whole database; unique, and visible in order (<see cref="VisibleOrder"/>).
    /// </summary>
    public long Seq { get; set; }

    /// <summary>The seq of its creation once it has changed; null while <see cref="Seq"/> still is its creation.</summary>
    public long? CreatedSeq { get; set; }

    public DateTime? EditedAt { get; set; }

    /// <summary>Set by a delete; a deleted message is in no history, no chat list and no SYNC by id.</summary>
    public DateTime? DeletedAt { get; set; }

    public Chat Chat { get; set; } = null!;

    public static bool IsValidText(string? text) => !string.IsNullOrWhiteSpace(text) && text.Length <= MaxTextLength;
}
