using System.Diagnostics;
using WinDi.Api.Messages;

namespace WinDi.Api.Realtime.Commands;

/// <summary>
/// EDIT_MESSAGE and DELETE_MESSAGE: the writer makes the change (or refuses it) and, once made, tells every member's
/// connections; the frame itself is answered only when it was refused, with one ERROR.
/// </summary>
internal static class MessageChange
{
    /// <param name="text">The new text; null to delete.</param>
    public static async Task MakeAsync(MessageWriter writer, CommandContext context, long messageId, string? text, CancellationToken ct)
    {
        Activity.Current?.SetTag("windi.message_id", messageId);
        var result = await writer.ChangeAsync(messageId, context.UserId, text, ct);
        Activity.Current?.SetTag("windi.change_status", result.Status.ToString());
        if (result.Seq > 0)
        {
            Activity.Current?.SetTag("windi.seq", result.Seq);
        }
        switch (result.Status)
        {
            case ChangeStatus.Edited or ChangeStatus.Deleted:
                break;
            case ChangeStatus.MessageNotFound:
                context.Fail(Protocol.Codes.MessageNotFound, "No such message, or it was deleted.");
                break;
            case ChangeStatus.NotAMember:
                context.Fail(Protocol.Codes.NotAMember, "You are not a member of this message's chat.");
                break;
            case ChangeStatus.Forbidden:
                context.Fail(Protocol.Codes.Forbidden, "Only the sender can edit or delete a message.");
                break;
            default:
                throw new UnreachableException();
        }
    }
}
