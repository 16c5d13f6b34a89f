using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Npgsql;
using WinDi.Api.Chats;

namespace WinDi.Api.Realtime.Commands;

public sealed record TypingPayload(long? ChatId);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(TypingPayload))]
internal sealed partial class TypingJson : JsonSerializerContext;

/// <summary>
/// TYPING: the chat's other members' connections get TYPING {chat_id, user_id}; nothing is stored. At most one per
/// user and chat every <see cref="TypingThrottle.Window"/> goes out, and the rest are dropped without an answer.
/// A repeat this replica saw relayed within the window is dropped before it costs anything; every other TYPING spends
/// budget and checks membership (one indexed query, which also yields the recipients) before it claims the window, so
/// a non-member or an unknown chat is answered every time and never holds a window.
/// </summary>
public sealed class Typing(TypingThrottle throttle, NpgsqlDataSource dataSource, IEventRelay relay) : Command<TypingPayload>
{
    public override string Name => Protocol.Typing;

    protected override JsonTypeInfo<TypingPayload> PayloadJson => TypingJson.Default.TypingPayload;

    // Metered below, after the window: a repeat within it is dropped before it costs anything, even budget.
    protected override bool Metered => false;

    protected override string? Validate(TypingPayload payload) => payload.ChatId is null or < 1 ? "payload.chat_id must be a chat id." : null;

    protected override async Task HandleAsync(CommandContext context, TypingPayload payload, CancellationToken ct)
    {
        var chatId = payload.ChatId!.Value;
        if (throttle.IsHeld(context.UserId, chatId))
        {
            return;
        }
        if (!TrySpendBudget(context))
        {
            return;
        }
        var members = await ChatAccess.MembersAsync(dataSource, chatId, ct);
        if (members is null)
        {
            context.Fail(Protocol.Codes.ChatNotFound, "No such chat.");
            return;
        }
        if (!members.Contains(context.UserId))
        {
            context.Fail(Protocol.Codes.NotAMember, "You are not a member of this chat.");
            return;
        }
        if (!await throttle.TryClaimAsync(context.UserId, chatId))
        {
            return;
        }
        var others = members.Where(id => id != context.UserId).ToArray();
        if (others.Length > 0)
        {
            await relay.PublishAsync(new RealtimeEvent(others, Frames.Encode(new TypingFrame(chatId, context.UserId))), default, ct);
        }
    }
}
