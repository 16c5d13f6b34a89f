using System.Net.WebSockets;

namespace WinDi.Api.Realtime;

/// <summary>
/// A connection lives no longer than its token: once a second this closes, with 1008 (policy violation), every
/// connection of this node whose token has expired, after what is already queued for it. One sweep for all, as
/// Kestrel's heartbeat checks every connection's timeouts, instead of a timer each: an idle connection holds no timer.
/// </summary>
public sealed class ExpiredTokenSweep(ConnectionRegistry connections, TimeProvider clock) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = clock.GetUtcNow().ToUnixTimeSeconds();
            foreach (var connection in connections.All)
            {
                if (connection.TokenExpiresAt <= now && connection.IsOpen)
                {
                    connection.Close(WebSocketCloseStatus.PolicyViolation, "Token expired");
                }
            }
        }
    }
}
