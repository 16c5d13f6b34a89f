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
public sealed class RelayKey : IDisposable
{
    private static readonly byte[] Label = Encoding.UTF8.GetBytes("windi relay envelope v1");

    public RelayKey(RelayOptions relay, JwtOptions jwt)
    {
        var secret = !string.IsNullOrEmpty(relay.Secret) ? Encoding.UTF8.GetBytes(relay.Secret) : jwt.SecretBytes;
        Bytes = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, salt: null, info: Label);
        hmac = new(() => new HMACSHA256(Bytes), trackAllValues: true);
    }

    internal byte[] Bytes { get; }

    // One keyed HMAC per thread, reset after each use: the one-shot HMACSHA256.HashData sets up a new native context
    // (the key schedule included) on every call, which was most of an envelope's cost (benchmarks/RelayEnvelopeCost.cs).
    private readonly ThreadLocal<HMACSHA256> hmac;

    /// <summary>HMAC-SHA256 of <paramref name="data"/> with this key into <paramref name="mac"/> (32 bytes).</summary>
    internal void Mac(ReadOnlySpan<byte> data, Span<byte> mac)
    {
        if (!hmac.Value!.TryComputeHash(data, mac, out _))
        {
            throw new ArgumentException("The MAC needs 32 bytes.", nameof(mac));
        }
    }

    public void Dispose()
    {
        foreach (var each in hmac.Values)
        {
            each.Dispose();
        }
        hmac.Dispose();
    }
}
