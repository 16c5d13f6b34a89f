namespace WinDi.Api.Users;

public sealed class User
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public required string Email { get; set; }

    /// <summary>Upper-cased email; its unique index makes emails unique case-insensitively.</summary>
    public required string NormalizedEmail { get; set; }
    public required string PasswordHash { get; set; }
    public DateTime CreatedAt { get; set; }

    /// <summary>
    /// When the user was last connected: written when a WebSocket of theirs opens and closes, and every
    /// <see cref="Realtime.LastSeenOptions.RecordEvery"/> while one is open (so that a replica that dies leaves
    /// a recent value); null if they never connected. See <see cref="Realtime.LastSeen"/>.
    /// </summary>
    public DateTime? LastSeen { get; set; }

    public static string Normalize(string email) => email.Trim().ToUpperInvariant();
}
