using System.Diagnostics;

namespace WinDi.Api.Realtime;

/// <summary>
/// One connection's token bucket for the commands that cost the server work (sends, reads, SYNC). It refills
/// from the time elapsed since it was last asked, so an idle connection costs nothing: no timer, unlike
/// <see cref="System.Threading.RateLimiting.TokenBucketRateLimiter"/>, which ticks once a period for each
/// instance. Not thread-safe: a connection's frames are handled one at a time.
/// </summary>
public sealed class CommandBudget(int perSecond, int burst)
{
    private double tokens = burst;
    private long refilledAt = Stopwatch.GetTimestamp();

    public bool TryTake()
    {
        var now = Stopwatch.GetTimestamp();
        tokens = Math.Min(burst, tokens + Stopwatch.GetElapsedTime(refilledAt, now).TotalSeconds * perSecond);
        refilledAt = now;
        if (tokens < 1)
        {
            return false;
        }
        tokens--;
        return true;
    }
}
