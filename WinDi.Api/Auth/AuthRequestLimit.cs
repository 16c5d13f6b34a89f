using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace WinDi.Api.Auth;

/// <summary>
/// Limits__AuthRequestsPerMinutePerAddress: /token and /register together, per client address (<see cref="ClientAddress"/>),
/// in a sliding one-minute window; beyond it 429 with Retry-After and a problem document, before the body is read.
/// Both endpoints hash a password, the most expensive thing an anonymous client can ask for. ASP.NET Core's
/// rate limiter keeps one small limiter per address and drops it once the address has been idle for its window.
/// </summary>
public sealed partial class AuthRequestLimit(IOptions<LimitsOptions> limits, IProblemDetailsService problems, ILogger<AuthRequestLimit> logger)
    : IRateLimiterPolicy<UInt128>
{
    public const string PolicyName = "auth-requests-per-address";

    private readonly SlidingWindowRateLimiterOptions perAddress = new()
    {
        PermitLimit = limits.Value.AuthRequestsPerMinutePerAddress,
        Window = TimeSpan.FromMinutes(1),
        SegmentsPerWindow = 6,
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    public RateLimitPartition<UInt128> GetPartition(HttpContext httpContext) =>
        RateLimitPartition.GetSlidingWindowLimiter(ClientAddress.Of(httpContext), _ => perAddress);

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => RejectAsync;

    private async ValueTask RejectAsync(OnRejectedContext context, CancellationToken ct)
    {
        Log.Refused(logger);
        var wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero ? retryAfter : perAddress.Window;
        var http = context.HttpContext;
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        TooManyRequests.SetRetryAfter(http.Response, wait);
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status429TooManyRequests,
                Detail = "Too many login and registration requests from your address; try again later.",
            },
        });
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Auth request refused: too many from the client's address")]
        public static partial void Refused(ILogger logger);
    }
}

/// <summary>The Retry-After of both auth limits' 429: whole seconds, rounded up, at least 1.</summary>
public static class TooManyRequests
{
    public static void SetRetryAfter(HttpResponse response, TimeSpan wait) =>
        response.Headers.RetryAfter = Math.Max(1, Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
