namespace WinDi.Api.Messages;

/// <summary>
/// The <c>is_read</c> rule of the original task: a message is read once no other current member of its chat
/// has a read marker below it (in a private chat, that is the recipient; in a group, every other member at
/// the time it is asked). The raw statements use <see cref="IsReadSql"/>; EF Core queries use
/// <see cref="MessageDto.FromMessage"/>, the same rule in LINQ.
/// </summary>
public static class ReadReceipts
{
    /// <summary>The rule as an SQL boolean for the message row aliased <paramref name="message"/>.</summary>
    public static string IsReadSql(string message) => $"""
        NOT EXISTS (SELECT 1 FROM chat_members o
                    WHERE o.chat_id = {message}.chat_id AND o.user_id <> {message}.sender_id AND o.last_read_message_id < {message}.id)
        """;
}
