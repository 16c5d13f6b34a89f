using System.Security.Cryptography;
using System.Text;
using WinDi.Api.Auth;

namespace WinDi.Api.Realtime;

public sealed class RelayOptions
{
    public const string Section = "Relay";

    /// <summary>Relay__Secret: the key every replica authenticates relay envelopes with; derived from Jwt__Secret when unset.</summary>
    public string? Secret { get; set; }
}

/// <summary>
/// The key that authenticates relay envelopes (HMAC-SHA256), the same on every replica: derived with HKDF from
/// Relay__Secret when set, else from Jwt__Secret under a label of its own, so the signing key of tokens is
/// never used as is for anything else. A process that can reach Redis but knows neither cannot inject frames.
/// </summary>
public sealed class RelayKey
{
    private static readonly byte[] Label = Encoding.UTF8.GetBytes("windi relay envelope v1");

    public RelayKey(RelayOptions relay, JwtOptions jwt)
    {
        var secret = !string.IsNullOrEmpty(relay.Secret) ? Encoding.UTF8.GetBytes(relay.Secret) : jwt.SecretBytes;
        Bytes = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, salt: null, info: Label);
    }

    internal byte[] Bytes { get; }
}
