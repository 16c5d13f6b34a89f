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

    public static string Normalize(string email) => email.Trim().ToUpperInvariant();
}
