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
                bearer.TokenValidationParameters = TokenIssuer.ValidationParameters(jwt.Value);
                bearer.Events = new JwtBearerEvents { OnMessageReceived = ReadWebSocketToken };
            });
        services.AddAuthorization();
        return services;
    }

    /// <summary>Browsers cannot set headers on a WebSocket upgrade, so /ws takes the token from the path or the query.</summary>
    private static Task ReadWebSocketToken(MessageReceivedContext context)
    {
        var request = context.Request;
        if (request.Path.StartsWithSegments(RealtimeApi.Path))
        {
            context.Token = request.RouteValues[RealtimeApi.TokenRouteValue] as string
                ?? request.Query[RealtimeApi.TokenQueryParameter].FirstOrDefault();
        }
        return Task.CompletedTask;
    }
}
