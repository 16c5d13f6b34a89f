using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace WinDi.Tests.Infrastructure;

/// <summary>Hand-made tokens for the refusal tests (forged secret, expired); good tokens always come from POST /token.</summary>
public static class Jwt
{
    public static string Sign(long userId, DateTime expires, string secret) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "windi",
        Audience = "windi",
        IssuedAt = expires.AddMinutes(-30),
        NotBefore = expires.AddMinutes(-30),
        Expires = expires,
        Subject = new ClaimsIdentity([new Claim("sub", userId.ToString(System.Globalization.CultureInfo.InvariantCulture))]),
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256),
    });
}
