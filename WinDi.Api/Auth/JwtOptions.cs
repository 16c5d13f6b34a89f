using System.Text;
using Microsoft.Extensions.Options;

namespace WinDi.Api.Auth;

public sealed class JwtOptions
{
    public const string Section = "Jwt";
    public const int MinimumSecretBytes = 32;

    /// <summary>Used only in Development when Jwt__Secret is not set, so that a newcomer can run WinDi without set-up.</summary>
    internal const string DevelopmentSecret = "windi-development-only-secret-do-not-use-in-production";

    public string? Secret { get; set; }
    /// <summary>Access-token lifetime; fractions are allowed (0.25 is 15 seconds), so that tests can watch tokens expire.</summary>
    public double AccessTokenMinutes { get; set; } = 30;

    /// <summary>How long a refresh token (and so an unused session) lives; each refresh starts a new one.</summary>
    public int RefreshTokenDays { get; set; } = 30;
    public string Issuer { get; set; } = "windi";
    public string Audience { get; set; } = "windi";

    public byte[] SecretBytes => Encoding.UTF8.GetBytes(Secret ?? "");

    public TimeSpan AccessTokenLifetime => TimeSpan.FromSeconds(Math.Round(AccessTokenMinutes * 60));

    public TimeSpan RefreshTokenLifetime => TimeSpan.FromDays(RefreshTokenDays);
}

internal sealed class JwtOptionsSetup(IHostEnvironment environment) : IPostConfigureOptions<JwtOptions>, IValidateOptions<JwtOptions>
{
    public void PostConfigure(string? name, JwtOptions options)
    {
        if (string.IsNullOrEmpty(options.Secret) && environment.IsDevelopment())
        {
            options.Secret = JwtOptions.DevelopmentSecret;
        }
    }

    public ValidateOptionsResult Validate(string? name, JwtOptions options)
    {
        if (string.IsNullOrEmpty(options.Secret))
        {
            return ValidateOptionsResult.Fail("Jwt__Secret is required outside Development: an HMAC secret of at least 32 bytes, the same on every replica.");
        }
        if (options.SecretBytes.Length < JwtOptions.MinimumSecretBytes)
        {
            return ValidateOptionsResult.Fail($"Jwt__Secret is too short: it has {options.SecretBytes.Length} bytes (UTF-8) and needs at least {JwtOptions.MinimumSecretBytes}.");
        }
        if (!(options.AccessTokenMinutes >= 1.0 / 60 && options.AccessTokenMinutes <= 60 * 24 * 30))
        {
            return ValidateOptionsResult.Fail("Jwt__AccessTokenMinutes must be between 1 and 43200 (fractions allowed, down to 1/60: one second).");
        }
        if (options.RefreshTokenDays is < 1 or > 3650)
        {
            return ValidateOptionsResult.Fail("Jwt__RefreshTokenDays must be between 1 and 3650.");
        }
        return options.RefreshTokenLifetime < options.AccessTokenLifetime
            ? ValidateOptionsResult.Fail("Jwt__RefreshTokenDays must cover at least one access token (Jwt__AccessTokenMinutes): a session cannot end before its first token.")
            : ValidateOptionsResult.Success;
    }
}
