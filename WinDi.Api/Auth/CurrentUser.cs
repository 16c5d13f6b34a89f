using System.Globalization;
using System.Reflection;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;

namespace WinDi.Api.Auth;

/// <summary>
/// The authenticated caller, bound as a handler parameter from the validated token: the user, and the session the
/// token belongs to (its <c>sid</c> claim; null for a token minted without one, before sessions existed).
/// </summary>
public readonly record struct CurrentUser(long Id, Guid? SessionId = null)
{
    public static CurrentUser From(ClaimsPrincipal principal) =>
        TryFrom(principal, out var user)
            ? user
            : throw new InvalidOperationException("The endpoint requires an authenticated user with a numeric 'sub' claim.");

    /// <summary>False when the token names no user, or names a session in a form WinDi never mints.</summary>
    public static bool TryFrom(ClaimsPrincipal? principal, out CurrentUser user)
    {
        var parsed = long.TryParse(principal?.FindFirstValue(JwtRegisteredClaimNames.Sub), NumberStyles.None, CultureInfo.InvariantCulture, out var id);
        Guid? sessionId = null;
        if (principal?.FindFirstValue(JwtRegisteredClaimNames.Sid) is { } sid)
        {
            parsed &= Guid.TryParseExact(sid, "D", out var session);
            sessionId = session;
        }
        user = new CurrentUser(id, sessionId);
        return parsed;
    }

    public static ValueTask<CurrentUser> BindAsync(HttpContext context, ParameterInfo parameter) => ValueTask.FromResult(From(context.User));
}
