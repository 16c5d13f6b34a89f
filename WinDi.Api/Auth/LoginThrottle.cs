using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace WinDi.Api.Auth;

/// <summary>
/// Counts failed /token attempts per account (normalized email) in a sliding one-minute window.
/// Keyed by account, not address, so guessing one password is slow while many people behind one
/// address can still log in. The count lives in this process: with N replicas an attacker gets at
/// most N times the limit, still slow enough for guessing.
/// </summary>
public sealed class LoginThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> failures;

    public LoginThrottle(IOptions<LimitsOptions> limits)
    {
        var perMinute = limits.Value.FailedLoginsPerMinute;
        failures = PartitionedRateLimiter.Create<string, string>(account => RateLimitPartition.GetSlidingWindowLimiter(account,
            _ => new SlidingWindowRateLimiterOptions
            {
                PermitLimit = perMinute,
                Window = TimeSpan.FromMinutes(1),
                SegmentsPerWindow = 6,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    /// <summary>Null when the account may try; otherwise how long it must wait.</summary>
    public TimeSpan? RetryAfter(string normalizedEmail)
    {
        using var probe = failures.AttemptAcquire(normalizedEmail, permitCount: 0);
        if (probe.IsAcquired)
        {
            return null;
        }
        return probe.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero
            ? retryAfter
            : TimeSpan.FromSeconds(10);
    }

    public void RecordFailure(string normalizedEmail)
    {
        // The lease is the record of the failure; the window forgets it, so disposing it returns nothing.
        using var _ = failures.AttemptAcquire(normalizedEmail);
    }

    public void Dispose() => failures.Dispose();
}
