using System.Globalization;
using System.Reflection;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;

namespace WinDi.Api.Auth;

/// <summary>The authenticated caller, bound as a handler parameter from the validated token.</summary>
public readonly record struct CurrentUser(long Id)
{
    public static CurrentUser From(ClaimsPrincipal principal) =>
        TryFrom(principal, out var user)
            ? user
            : throw new InvalidOperationException("The endpoint requires an authenticated user with a numeric 'sub' claim.");

    public static bool TryFrom(ClaimsPrincipal? principal, out CurrentUser user)
    {
        var parsed = long.TryParse(principal?.FindFirstValue(JwtRegisteredClaimNames.Sub), NumberStyles.None, CultureInfo.InvariantCulture, out var id);
        user = new CurrentUser(id);
        return parsed;
    }

    public static ValueTask<CurrentUser> BindAsync(HttpContext context, ParameterInfo parameter) => ValueTask.FromResult(From(context.User));
}
