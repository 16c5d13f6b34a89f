namespace WinDi.Api.Auth;

/// <summary>
/// One login (a device): it lives while its refresh token is used at least once every Jwt__RefreshTokenDays, until it
/// is revoked (logout, another device signing it out, or a rotated refresh token used again). Only the SHA-256 of the
/// current refresh token is stored; <see cref="Generation"/> counts rotations, so an older token of the session is
/// recognised as reuse (see <see cref="RefreshTokens"/>).
/// </summary>
public sealed class Session
{
    public Guid Id { get; set; }
    public long UserId { get; set; }
    public DateTime CreatedAt { get; set; }

    /// <summary>The last login or refresh: when the session last got tokens.</summary>
    public DateTime LastUsedAt { get; set; }

    /// <summary>When the current refresh token stops working (each refresh moves it).</summary>
    public DateTime ExpiresAt { get; set; }
    public DateTime? RevokedAt { get; set; }

    /// <summary>SHA-256 of the current refresh token.</summary>
    public required byte[] RefreshHash { get; set; }

    /// <summary>How many times the refresh token was rotated; the current token carries it.</summary>
    public int Generation { get; set; }
}
