using System.ComponentModel;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using WinDi.Api.Auth;
using WinDi.Api.Chats;
using WinDi.Api.Data;

namespace WinDi.Api.Messages;

public static class HistoryApi
{
    public const int MaxPageSize = 100;

    public static RouteGroupBuilder MapHistory(this IEndpointRouteBuilder routes)
    {
        var history = routes.MapGroup("/history").WithTags("Messages").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        history.MapGet("/{chatId:long}", GetHistory)
            .WithSummary("A page of a chat's messages, oldest first")
            .WithDescription("Offset paging, as in the original: messages in ascending order, offset skips that many from the oldest " +
                "(limit=50&offset=0 is the first 50 messages ever sent; no paging parameter means offset=0, limit=100). " +
                "latest=true gives the newest page instead. Keyset paging instead of offset: before_id=X gives the limit messages " +
                "just older than X, after_id=X those just newer. latest cannot be combined with offset or after_id; with before_id " +
                "it changes nothing.")
            .ProducesAccessProblems();
        return history;
    }

    private static async Task<Results<Ok<List<MessageDto>>, ValidationProblem, ProblemHttpResult>> GetHistory(
        long chatId, CurrentUser me, WinDiDb db, CancellationToken ct,
        [Description("Page size, 1 to 100.")] int limit = MaxPageSize,
        [Description("Messages to skip, counted from the oldest (0 is the first page ever sent).")] int? offset = null,
        [Description("true: the newest page (the limit most recent messages, still oldest first).")] bool latest = false,
        [FromQuery(Name = "before_id"), Description("Keyset: the limit messages just older than this message id.")] long? beforeId = null,
        [FromQuery(Name = "after_id"), Description("Keyset: the limit messages just newer than this message id.")] long? afterId = null)
    {
        var errors = new RequestErrors();
        if (limit is < 1 or > MaxPageSize) errors.Add("limit", $"limit must be between 1 and {MaxPageSize}.");
        if (offset < 0) errors.Add("offset", "offset must be 0 or more.");
        if (beforeId is not null && afterId is not null) errors.Add("before_id", "Give before_id or after_id, not both.");
        if (offset is not null && (beforeId is not null || afterId is not null)) errors.Add("offset", "offset cannot be combined with before_id or after_id.");
        if (latest && offset is not null) errors.Add("latest", "latest=true (the newest page) cannot be combined with offset, which counts from the oldest message.");
        if (latest && afterId is not null) errors.Add("latest", "latest=true (the newest page) cannot be combined with after_id.");
        if (beforeId < 1) errors.Add("before_id", "before_id must be a message id (1 or more).");
        if (afterId < 0) errors.Add("after_id", "after_id must be 0 or more.");
        if (errors.Any)
        {
            return errors.ToResult();
        }

        if (!await db.ChatMembers.AnyAsync(m => m.ChatId == chatId && m.UserId == me.Id, ct))
        {
            return await ChatAccess.DeniedAsync(db, chatId, ct);
        }

        // Ids are the chat's time order (README "Order"), and every page is returned ascending by id. A deleted
        // message is in no page (offsets count the messages that are there), an edited one has its latest text.
        var messages = db.Messages.Where(m => m.ChatId == chatId && m.DeletedAt == null);
        List<MessageDto> page;
        if (latest || beforeId is not null)
        {
            // The newest page, or the one just older than before_id: read newest first, handed out oldest first.
            if (beforeId is { } before)
            {
                messages = messages.Where(m => m.Id < before);
            }
            page = await messages.OrderByDescending(m => m.Id).Take(limit).Select(MessageDto.FromMessage).ToListAsync(ct);
            page.Reverse();
        }
        else
        {
            // after_id, or offset paging counted from the oldest message (offset=0 when neither is given).
            if (afterId is { } after)
            {
                messages = messages.Where(m => m.Id > after);
            }
            page = await messages.OrderBy(m => m.Id).Skip(offset ?? 0).Take(limit).Select(MessageDto.FromMessage).ToListAsync(ct);
        }
        return TypedResults.Ok(page);
    }
}
