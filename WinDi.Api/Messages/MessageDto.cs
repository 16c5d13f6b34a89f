using System.Linq.Expressions;

namespace WinDi.Api.Messages;

/// <summary>
/// A message as clients see it. <c>timestamp</c> and <c>edited_at</c> are Unix time in seconds (<c>edited_at</c> null
/// if never edited); <c>seq</c> is the place of its latest change in the sequence SYNC <c>after_seq</c> follows.
/// </summary>
public sealed record MessageDto(long Id, long ChatId, long SenderId, string Text, string ClientMessageId, long Timestamp, bool IsRead, long? EditedAt, long Seq)
{
    public static long UnixSeconds(DateTime utc) => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)).ToUnixTimeSeconds();

    public static long? UnixSeconds(DateTime? utc) => utc is { } value ? UnixSeconds(value) : null;

    /// <summary>
    /// The projection every EF Core query uses, <c>is_read</c> computed in SQL by the rule of
    /// <see cref="ReadReceipts"/>, which the raw statements share.
    /// </summary>
    public static readonly Expression<Func<Message, MessageDto>> FromMessage = m => new MessageDto(
        m.Id, m.ChatId, m.SenderId, m.Text, m.ClientMessageId,
        UnixSeconds(m.CreatedAt),
        !m.Chat.Members.Any(o => o.UserId != m.SenderId && o.LastReadMessageId < m.Id),
        UnixSeconds(m.EditedAt),
        m.Seq);
}
