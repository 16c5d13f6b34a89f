using System.Security.Claims;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace WinDi.Api.Auth;

/// <summary>The OAuth2 token response (RFC 6749 §5.1); both lifetimes in seconds.</summary>
public sealed record TokenResponse(string AccessToken, string TokenType, int ExpiresIn, string RefreshToken, int RefreshExpiresIn);

public sealed class TokenIssuer(IOptions<JwtOptions> options, TimeProvider clock)
{
    private readonly JsonWebTokenHandler handler = new();

    /// <summary>An access token of the session (its id in the <c>sid</c> claim), handed out with the session's refresh token.</summary>
    public TokenResponse Issue(long userId, string name, string email, Guid sessionId, string refreshToken)
    {
        var jwt = options.Value;
        var now = clock.GetUtcNow().UtcDateTime;
        var token = handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = jwt.Issuer,
            Audience = jwt.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + jwt.AccessTokenLifetime,
            Subject = new ClaimsIdentity(
            [
                new Claim(JwtRegisteredClaimNames.Sub, userId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new Claim(JwtRegisteredClaimNames.Sid, sessionId.ToString()),
                new Claim(JwtRegisteredClaimNames.Name, name),
                new Claim(JwtRegisteredClaimNames.Email, email),
            ]),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(jwt.SecretBytes), SecurityAlgorithms.HmacSha256),
        });
        return new TokenResponse(token, "bearer", (int)jwt.AccessTokenLifetime.TotalSeconds, refreshToken, (int)jwt.RefreshTokenLifetime.TotalSeconds);
    }

    public static TokenValidationParameters ValidationParameters(JwtOptions jwt) => new()
    {
        ValidIssuer = jwt.Issuer,
        ValidAudience = jwt.Audience,
        IssuerSigningKey = new SymmetricSecurityKey(jwt.SecretBytes),
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        ClockSkew = TimeSpan.FromSeconds(30),
        NameClaimType = JwtRegisteredClaimNames.Name,
    };
}
