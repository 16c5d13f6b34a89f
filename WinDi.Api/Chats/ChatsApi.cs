using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using WinDi.Api.Auth;
using WinDi.Api.Data;
using WinDi.Api.Realtime;

namespace WinDi.Api.Chats;

public sealed record CreateChatRequest(bool IsGroup, long? RecipientId, string? Name);

public sealed record DetailResponse(string Detail);

public static class ChatsApi
{
    public const int MaxChatNameLength = 100;
    private const string PrivatePairIndex = "ix_chats_private_low_user_id_private_high_user_id";

    public static RouteGroupBuilder MapChats(this IEndpointRouteBuilder routes)
    {
        var chats = routes.MapGroup("/chats").WithTags("Chats").RequireAuthorization().RejectUnstorableText()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        chats.MapGet("/", List).WithSummary("The caller's chats, most recent activity first");
        chats.MapPost("/", Create).WithSummary("Start a private chat or create a group")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        chats.MapGet("/{id:long}", Get).WithSummary("One chat with its members")
            .ProducesAccessProblems();
        chats.MapPost("/{id:long}/add-user", AddUser).WithSummary("Add someone to a group")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesAccessProblems()
            .ProducesProblem(StatusCodes.Status409Conflict);
        chats.MapDelete("/{id:long}/exit", Exit).WithSummary("Leave a chat")
            .ProducesAccessProblems();
        return chats;
    }

    private static async Task<Ok<List<ChatDto>>> List(CurrentUser me, WinDiDb db, NpgsqlDataSource dataSource, Presence presence, CancellationToken ct) =>
        TypedResults.Ok(await ChatQueries.ListAsync(db, dataSource, presence, me.Id, ct));

    private static async Task<Results<Created<ChatDto>, ValidationProblem, ProblemHttpResult>> Create(
        CreateChatRequest request, CurrentUser me, WinDiDb db, CancellationToken ct)
    {
        var name = string.IsNullOrWhiteSpace(request.Name) ? null : request.Name.Trim();
        if (name is { Length: > MaxChatNameLength })
        {
            return Problems.Invalid("name", $"name must be at most {MaxChatNameLength} characters.");
        }
        if (request.IsGroup)
        {
            if (name is null)
            {
                return Problems.Invalid("name", "A group needs a name.");
            }
            var group = new Chat { Name = name, IsGroup = true, Members = [new ChatMember { UserId = me.Id }] };
            db.Chats.Add(group);
            await db.SaveChangesAsync(ct);
            return TypedResults.Created($"/chats/{group.Id}", new ChatDto(group.Id, group.Name, true, null, 0));
        }

        if (request.RecipientId is not { } recipientId)
        {
            return Problems.Invalid("recipient_id", "A private chat needs recipient_id; a group needs is_group: true and a name.");
        }
        if (recipientId == me.Id)
        {
            return Problems.Invalid("recipient_id", "You cannot start a private chat with yourself.");
        }
        var recipientName = await db.Users.Where(u => u.Id == recipientId).Select(u => u.Name).SingleOrDefaultAsync(ct);
        if (recipientName is null)
        {
            return Problems.NotFound($"No user with id {recipientId}.");
        }

        var (low, high) = Chat.PrivatePair(me.Id, recipientId);
        if (await ExistingPrivateChat(db, low, high, ct) is { } existing)
        {
            return await PrivateChatExists(db, existing, me, ct);
        }
        var chat = new Chat
        {
            Name = name,
            PrivateLowUserId = low,
            PrivateHighUserId = high,
            Members = [new ChatMember { UserId = me.Id }, new ChatMember { UserId = recipientId }],
        };
        db.Chats.Add(chat);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation(PrivatePairIndex))
        {
            // Lost a race with a parallel request for the same pair: the constraint decided.
            return await PrivateChatExists(db, (await ExistingPrivateChat(db, low, high, ct))!.Value, me, ct);
        }
        return TypedResults.Created($"/chats/{chat.Id}", new ChatDto(chat.Id, name ?? recipientName, false, null, 0));
    }

    private static Task<long?> ExistingPrivateChat(WinDiDb db, long low, long high, CancellationToken ct) =>
        db.Chats.Where(c => c.PrivateLowUserId == low && c.PrivateHighUserId == high).Select(c => (long?)c.Id).SingleOrDefaultAsync(ct);

    private static async Task<ProblemHttpResult> PrivateChatExists(WinDiDb db, long chatId, CurrentUser me, CancellationToken ct)
    {
        // Someone who left a private chat gets back into it rather than being shown an id they cannot open.
        await AddMember(db, chatId, me.Id, invitedBy: me.Id, ct);
        return Problems.Conflict("You already have a private chat with this user.", new Dictionary<string, object?> { ["chat_id"] = chatId });
    }

    private static async Task<Results<Ok<ChatDto>, ProblemHttpResult>> Get(long id, CurrentUser me, WinDiDb db, NpgsqlDataSource dataSource, Presence presence, CancellationToken ct) =>
        await ChatQueries.GetAsync(db, dataSource, presence, me.Id, id, ct) is { } chat ? TypedResults.Ok(chat) : await ChatAccess.DeniedAsync(db, id, ct);

    private static async Task<Results<Ok<DetailResponse>, ProblemHttpResult>> AddUser(long id, [FromQuery(Name = "user_id")] long userId, CurrentUser me, WinDiDb db, CancellationToken ct)
    {
        var chat = await db.Chats.Where(c => c.Id == id)
            .Select(c => new { c.IsGroup, CallerIsMember = c.Members.Any(m => m.UserId == me.Id) })
            .SingleOrDefaultAsync(ct);
        if (chat is null) return Problems.NotFound(Problems.NoSuchChat);
        if (!chat.CallerIsMember) return Problems.Forbidden(Problems.NotAMember);
        if (!chat.IsGroup) return Problems.BadRequest("People cannot be added to a private chat; create a group instead.");
        if (!await db.Users.AnyAsync(u => u.Id == userId, ct)) return Problems.NotFound($"No user with id {userId}.");

        var added = await AddMember(db, id, userId, invitedBy: me.Id, ct);
        if (added == 1)
        {
            return TypedResults.Ok(new DetailResponse("User added to the chat."));
        }
        return await db.ChatMembers.AnyAsync(m => m.ChatId == id && m.UserId == userId, ct)
            ? Problems.Conflict("This user is already a member of the chat.")
            : Problems.Forbidden(Problems.NotAMember);
    }

    private static async Task<Results<Ok<DetailResponse>, ProblemHttpResult>> Exit(long id, CurrentUser me, WinDiDb db, CancellationToken ct)
    {
        var left = await db.ChatMembers.Where(m => m.ChatId == id && m.UserId == me.Id).ExecuteDeleteAsync(ct);
        if (left == 1)
        {
            return TypedResults.Ok(new DetailResponse("You left the chat."));
        }
        return await ChatAccess.DeniedAsync(db, id, ct);
    }

    /// <summary>
    /// One statement: the inviter must still be a member (or be rejoining themselves), and the primary key
    /// refuses a second membership. New members start with everything before they joined marked read, so
    /// older messages keep their receipts and the newcomer's unread count starts at zero.
    /// </summary>
    private static Task<int> AddMember(WinDiDb db, long chatId, long userId, long invitedBy, CancellationToken ct) => db.Database.ExecuteSqlAsync($"""
        INSERT INTO chat_members (chat_id, user_id, last_read_message_id, joined_at)
        SELECT {chatId}, {userId}, COALESCE((SELECT max(id) FROM messages WHERE chat_id = {chatId} AND deleted_at IS NULL), 0), now()
        WHERE {invitedBy} = {userId} OR EXISTS (SELECT 1 FROM chat_members WHERE chat_id = {chatId} AND user_id = {invitedBy})
        ON CONFLICT (chat_id, user_id) DO NOTHING
        """, ct);
}
