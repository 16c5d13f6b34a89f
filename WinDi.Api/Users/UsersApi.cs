using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using WinDi.Api.Auth;
using WinDi.Api.Data;

namespace WinDi.Api.Users;

public sealed record UserDto(long Id, string Email, string Name);

public static class UsersApi
{
    public const int MaxSearchResults = 50;

    public static RouteGroupBuilder MapUsers(this IEndpointRouteBuilder routes)
    {
        var users = routes.MapGroup("/users").WithTags("Users").RequireAuthorization().RejectUnstorableText()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        users.MapGet("/me", GetMe).WithSummary("The caller's profile");
        users.MapGet("/", Search).WithSummary("Find people by name or email prefix (at most 50)");
        return users;
    }

    private static async Task<Results<Ok<UserDto>, ProblemHttpResult>> GetMe(CurrentUser me, WinDiDb db, CancellationToken ct)
    {
        var user = await db.Users.Where(u => u.Id == me.Id).Select(u => new UserDto(u.Id, u.Email, u.Name)).SingleOrDefaultAsync(ct);
        return user is null
            ? TypedResults.Problem("The account of this token no longer exists.", statusCode: StatusCodes.Status401Unauthorized)
            : TypedResults.Ok(user);
    }

    private static async Task<Results<Ok<List<UserDto>>, ValidationProblem>> Search(WinDiDb db, CancellationToken ct, string? search = null, int limit = 20)
    {
        if (limit < 1)
        {
            return Problems.Invalid("limit", "limit must be at least 1.");
        }
        var query = db.Users.AsQueryable();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var prefix = EscapeLike(search.Trim());
            var namePattern = prefix.ToLowerInvariant() + "%";
            var emailPattern = User.Normalize(prefix) + "%";
            query = query.Where(u => EF.Functions.Like(u.Name.ToLower(), namePattern, "\\") || EF.Functions.Like(u.NormalizedEmail, emailPattern, "\\"));
        }
        var found = await query.OrderBy(u => u.Name).ThenBy(u => u.Id)
            .Take(Math.Min(limit, MaxSearchResults))
            .Select(u => new UserDto(u.Id, u.Email, u.Name))
            .ToListAsync(ct);
        return TypedResults.Ok(found);
    }

    private static string EscapeLike(string text) => text.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_");
}
