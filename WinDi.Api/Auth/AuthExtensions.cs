using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using WinDi.Api.Realtime;
using WinDi.Api.Users;

namespace WinDi.Api.Auth;

public static class AuthExtensions
{
    public static IServiceCollection AddWinDiAuth(this IServiceCollection services)
    {
        services.AddOptions<JwtOptions>().BindConfiguration(JwtOptions.Section).ValidateOnStart();
        services.AddSingleton<IPostConfigureOptions<JwtOptions>, JwtOptionsSetup>();
        services.AddSingleton<IValidateOptions<JwtOptions>, JwtOptionsSetup>();
        services.AddSingleton<TokenIssuer>();
        services.AddSingleton<IPasswordHasher<User>, PasswordHasher<User>>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<AccessCheck>();
        services.AddSingleton<RefreshTokens>();
        services.AddSingleton<Sessions>();
        services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddPolicy<UInt128, AuthRequestLimit>(AuthRequestLimit.PolicyName);
        });

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<JwtOptions>>((bearer, jwt) =>
            {
                bearer.MapInboundClaims = false;
                // Nothing reads the token back from the authentication result, which a WebSocket's request holds for the
                // socket's life.
                bearer.SaveToken = false;
                bearer.TokenValidationParameters = TokenIssuer.ValidationParameters(jwt.Value);
                bearer.Events = new JwtBearerEvents
                {
                    OnMessageReceived = ReadWebSocketToken,
                    OnTokenValidated = CheckValidatedToken,
                    OnChallenge = ExplainRefusal,
                };
            });
        services.AddAuthorization();
        return services;
    }

    private static bool IsWebSocketRequest(HttpRequest request) => request.Path.StartsWithSegments(RealtimeApi.Path);

    /// <summary>Browsers cannot set headers on a WebSocket upgrade, so /ws takes the token from the path or the query.</summary>
    private static Task ReadWebSocketToken(MessageReceivedContext context)
    {
        var request = context.Request;
        if (IsWebSocketRequest(request))
        {
            context.Token = request.RouteValues[RealtimeApi.TokenRouteValue] as string
                ?? request.Query[RealtimeApi.TokenQueryParameter].FirstOrDefault();
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// A token that passes <see cref="RefuseTokensOfEndedSessions"/> on a WebSocket upgrade leaves the request with the
    /// principal the connection needs (<see cref="RealtimeApi.ConnectionPrincipal"/>): it is held for the socket's life.
    /// </summary>
    private static async Task CheckValidatedToken(TokenValidatedContext context)
    {
        await RefuseTokensOfEndedSessions(context);
        if (context.Result is null && IsWebSocketRequest(context.Request))
        {
            context.Principal = RealtimeApi.ConnectionPrincipal(context.Principal!);
        }
    }

    /// <summary>
    /// A good signature proves that WinDi minted the token, not that its user still exists or that its session was not
    /// revoked: <see cref="AccessCheck"/> decides, for REST and the WebSocket upgrade alike (both are authenticated here).
    /// </summary>
    private static async Task RefuseTokensOfEndedSessions(TokenValidatedContext context)
    {
        if (!CurrentUser.TryFrom(context.Principal, out var user))
        {
            context.Fail(new TokenRefusedException(StatusCodes.Status401Unauthorized, "This token names no user; log in again."));
            return;
        }
        var access = await context.HttpContext.RequestServices.GetRequiredService<AccessCheck>().CheckAsync(user, context.HttpContext.RequestAborted);
        if (access == Access.UserGone)
        {
            context.Fail(new TokenRefusedException(StatusCodes.Status401Unauthorized, "The account of this token no longer exists; log in again."));
        }
        else if (access == Access.SessionEnded)
        {
            context.Fail(new TokenRefusedException(StatusCodes.Status401Unauthorized,
                "The session of this token has ended (logged out, signed out from another device, or expired); log in again."));
        }
        else if (access == Access.Unverifiable)
        {
            // Not 401: the token may well be good, and a client that hears 401 throws it away.
            context.Fail(new TokenRefusedException(StatusCodes.Status503ServiceUnavailable,
                "The database is unavailable right now, so the token cannot be checked; try again shortly."));
        }
    }

    /// <summary>
    /// A token refused above is answered with its own status and detail, before any endpoint runs (so before the
    /// WebSocket upgrade); every other challenge is the handler's plain 401, which ErrorHandling gives a problem body.
    /// </summary>
    private static async Task ExplainRefusal(JwtBearerChallengeContext context)
    {
        if (context.AuthenticateFailure is not TokenRefusedException refused)
        {
            return;
        }
        context.HandleResponse();
        var http = context.HttpContext;
        http.Response.StatusCode = refused.Status;
        if (refused.Status == StatusCodes.Status401Unauthorized)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
        }
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = refused.Status, Detail = refused.Message },
        });
    }

    /// <summary>Why a correctly signed token was refused; carried from the token check to the challenge.</summary>
    private sealed class TokenRefusedException(int status, string detail) : Exception(detail)
    {
        public int Status { get; } = status;
    }
}
