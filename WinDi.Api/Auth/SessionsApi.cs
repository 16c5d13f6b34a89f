using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using WinDi.Api.Data;
using WinDi.Api.Messages;

namespace WinDi.Api.Auth;

/// <summary>A live session of the caller's; times in Unix seconds.</summary>
/// <param name="Current">The session of the token that asked.</param>
public sealed record SessionDto(Guid Id, long CreatedAt, long LastUsedAt, bool Current);

/// <summary>POST /logout, GET /sessions, DELETE /sessions/{id}: the caller's sessions (devices).</summary>
public static class SessionsApi
{
    public static IEndpointRouteBuilder MapSessions(this IEndpointRouteBuilder routes)
    {
        var signedIn = routes.MapGroup("").WithTags("Sessions").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        signedIn.MapPost("/logout", LogOut).WithSummary("Log out: end the session of this token")
            .WithDescription("Its refresh token and access tokens stop working (within 5 seconds on every replica), and its WebSockets close with 1008.");
        signedIn.MapGet("/sessions", List).WithSummary("The caller's live sessions (devices), the most recently used first");
        signedIn.MapDelete("/sessions/{id:guid}", Revoke).WithSummary("End one of the caller's sessions (sign out a device)")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return routes;
    }

    /// <summary>A token without a session (minted before sessions existed) has nothing to end: 204 too.</summary>
    private static async Task<NoContent> LogOut(CurrentUser me, Sessions sessions, CancellationToken ct)
    {
        if (me.SessionId is { } sessionId)
        {
            await sessions.RevokeAsync(me.Id, sessionId, ct);
        }
        return TypedResults.NoContent();
    }

    private static async Task<Ok<List<SessionDto>>> List(CurrentUser me, WinDiDb db, CancellationToken ct)
    {
        // DateTime.UtcNow is translated to the database's now(), the clock every other session rule uses.
        var live = await db.Sessions.AsNoTracking()
            .Where(s => s.UserId == me.Id && s.RevokedAt == null && s.ExpiresAt > DateTime.UtcNow)
            .OrderByDescending(s => s.LastUsedAt).ThenByDescending(s => s.CreatedAt)
            .Select(s => new { s.Id, s.CreatedAt, s.LastUsedAt })
            .ToListAsync(ct);
        return TypedResults.Ok(live.Select(s => new SessionDto(s.Id, MessageDto.UnixSeconds(s.CreatedAt), MessageDto.UnixSeconds(s.LastUsedAt), s.Id == me.SessionId)).ToList());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(Guid id, CurrentUser me, Sessions sessions, CancellationToken ct) =>
        await sessions.RevokeAsync(me.Id, id, ct)
            ? TypedResults.NoContent()
            : Problems.NotFound("You have no live session with this id.");
}
