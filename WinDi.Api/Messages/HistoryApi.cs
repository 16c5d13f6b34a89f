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
            .WithDescription("offset counts back from the newest message (offset=0 is the latest page). " +
                "Keyset paging instead of offset: before_id=X gives the messages just older than X, after_id=X those just newer.")
            .ProducesAccessProblems();
        return history;
    }

    private static async Task<Results<Ok<List<MessageDto>>, ValidationProblem, ProblemHttpResult>> GetHistory(
        long chatId, CurrentUser me, WinDiDb db, CancellationToken ct,
        int limit = MaxPageSize, int? offset = null,
        [FromQuery(Name = "before_id")] long? beforeId = null, [FromQuery(Name = "after_id")] long? afterId = null)
    {
        var errors = new RequestErrors();
        if (limit is < 1 or > MaxPageSize) errors.Add("limit", $"limit must be between 1 and {MaxPageSize}.");
        if (offset < 0) errors.Add("offset", "offset must be 0 or more.");
        if (beforeId is not null && afterId is not null) errors.Add("before_id", "Give before_id or after_id, not both.");
        if (offset is not null && (beforeId is not null || afterId is not null)) errors.Add("offset", "offset cannot be combined with before_id or after_id.");
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

        var messages = db.Messages.Where(m => m.ChatId == chatId);
        List<MessageDto> page;
        if (afterId is { } after)
        {
            page = await messages.Where(m => m.Id > after).OrderBy(m => m.Id).Take(limit).Select(MessageDto.FromMessage).ToListAsync(ct);
        }
        else
        {
            if (beforeId is { } before)
            {
                messages = messages.Where(m => m.Id < before);
            }
            page = await messages.OrderByDescending(m => m.Id).Skip(offset ?? 0).Take(limit).Select(MessageDto.FromMessage).ToListAsync(ct);
            page.Reverse();
        }
        return TypedResults.Ok(page);
    }
}
