using System.ComponentModel.DataAnnotations;

namespace WinDi.Api;

/// <summary>Every limit of DESIGN §6, configurable so that a load test can raise them (section "Limits").</summary>
public sealed class LimitsOptions
{
    public const string Section = "Limits";

    /// <summary>Per-connection token bucket of the commands that cost work: SEND_MESSAGE, READ_MESSAGE and SYNC.</summary>
    [Range(1, 1_000_000)]
    public int SendPerSecond { get; set; } = 20;

    [Range(1, 1_000_000)]
    public int SendBurst { get; set; } = 40;

    /// <summary>Failed /token attempts per account and client address in a one-minute window.</summary>
    [Range(1, 1_000_000)]
    public int FailedLoginsPerMinute { get; set; } = 10;

    /// <summary>/token and /register requests together per client address in a sliding minute.</summary>
    [Range(1, 1_000_000)]
    public int AuthRequestsPerMinutePerAddress { get; set; } = 120;

    /// <summary>Bytes of output waiting for one WebSocket connection; a connection that would pass it is closed.</summary>
    [Range(16 * 1024, 1L << 30)]
    public long ConnectionQueueBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Open WebSockets one user may hold across all replicas (per replica while Redis is down).</summary>
    [Range(1, 10_000)]
    public int ConnectionsPerUser { get; set; } = 20;

    [Range(1024, 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 16 * 1024;
}
