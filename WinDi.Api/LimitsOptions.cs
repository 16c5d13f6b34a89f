using System.ComponentModel.DataAnnotations;

namespace WinDi.Api;

/// <summary>Every limit of DESIGN §6, configurable so that a load test can raise them (section "Limits").</summary>
public sealed class LimitsOptions
{
    public const string Section = "Limits";

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

    /// <summary>Events waiting for one WebSocket connection; a connection whose queue overflows is closed.</summary>
    [Range(8, 1_000_000)]
    public int ConnectionQueueCapacity { get; set; } = 1024;

    [Range(1024, 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 16 * 1024;
}
