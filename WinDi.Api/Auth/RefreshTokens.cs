using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace WinDi.Api.Auth;

/// <summary>A refresh token as handed to the client, and the hash the database keeps instead of it.</summary>
public sealed record MintedRefreshToken(string Token, byte[] Hash);

/// <summary>What a presented refresh token says about itself; trusted only where <see cref="Genuine"/> says so.</summary>
/// <param name="Genuine">Its tag verifies: WinDi minted a token of this session and generation (its secret part may still be wrong).</param>
public readonly record struct PresentedRefreshToken(Guid SessionId, int Generation, bool Genuine, byte[] Hash);

/// <summary>
/// Refresh tokens: opaque to clients, 91 characters of base64url over 68 bytes.
/// <code>
/// offset  bytes  field
///      0     16  session id (Guid bytes)
///     16      4  generation (int32, big endian): how many times the session's token was rotated before this one
///     20     16  tag: HMAC-SHA256 of the 20 bytes before it, first 16 bytes (key derived from Jwt__Secret)
///     36     32  secret: 256 random bits
/// </code>
/// The database keeps only the SHA-256 of the token (of its characters as UTF-8) and looks a refresh up by it: a
/// database leak yields no usable token. The session id and generation make reuse detectable without keeping old
/// hashes: a genuine token (its tag verifies) of a generation older than its session's current one is a rotated token
/// used again, which revokes the session (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2). The tag keeps anyone who merely knows a
/// session id (it is in every access token) from revoking that session with a made-up "old" token.
/// </summary>
public sealed class RefreshTokens(IOptions<JwtOptions> jwt)
{
    private const int SessionBytes = 16, GenerationBytes = 4, TagBytes = 16, SecretBytes = 32;
    private const int TaggedBytes = SessionBytes + GenerationBytes;
    private const int TokenBytes = TaggedBytes + TagBytes + SecretBytes;

    /// <summary>The length of every token WinDi mints.</summary>
    public static readonly int TokenLength = Base64Url.GetEncodedLength(TokenBytes);

    private static readonly byte[] Label = Encoding.UTF8.GetBytes("windi refresh tokens v1");

    private readonly byte[] key = HKDF.DeriveKey(HashAlgorithmName.SHA256, jwt.Value.SecretBytes, 32, salt: null, info: Label);

    public MintedRefreshToken Mint(Guid sessionId, int generation)
    {
        Span<byte> bytes = stackalloc byte[TokenBytes];
        sessionId.TryWriteBytes(bytes[..SessionBytes]);
        BinaryPrimitives.WriteInt32BigEndian(bytes[SessionBytes..TaggedBytes], generation);
        Tag(bytes[..TaggedBytes], bytes.Slice(TaggedBytes, TagBytes));
        RandomNumberGenerator.Fill(bytes[(TaggedBytes + TagBytes)..]);
        var token = Base64Url.EncodeToString(bytes);
        return new MintedRefreshToken(token, Hash(token));
    }

    /// <summary>Reads a presented token; false when it is not one WinDi could have minted (wrong length or alphabet).</summary>
    public bool TryRead(string token, out PresentedRefreshToken presented)
    {
        presented = default;
        Span<byte> bytes = stackalloc byte[TokenBytes];
        if (token.Length != TokenLength || !Base64Url.TryDecodeFromChars(token, bytes, out var written) || written != TokenBytes)
        {
            return false;
        }
        Span<byte> expected = stackalloc byte[TagBytes];
        Tag(bytes[..TaggedBytes], expected);
        presented = new PresentedRefreshToken(
            new Guid(bytes[..SessionBytes]),
            BinaryPrimitives.ReadInt32BigEndian(bytes[SessionBytes..TaggedBytes]),
            CryptographicOperations.FixedTimeEquals(expected, bytes.Slice(TaggedBytes, TagBytes)),
            Hash(token));
        return true;
    }

    /// <summary>What the sessions table stores: SHA-256 of the token's characters (UTF-8, which for base64url is ASCII).</summary>
    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private void Tag(ReadOnlySpan<byte> tagged, Span<byte> tag)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, tagged, mac);
        mac[..TagBytes].CopyTo(tag);
    }
}
