using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace WinDi.Api.Auth;

/// <summary>
/// The client address the auth limits count by, as a fixed-size key: an IPv4 address whole (IPv4-mapped IPv6 is the
/// same address), an IPv6 address by its /64 prefix, since one subscriber usually gets a whole /64 and could
/// otherwise pick a new address per request. It is the TCP peer (<c>Connection.RemoteIpAddress</c>); behind a proxy
/// that is the proxy, unless the forwarded-headers middleware has replaced it (see the README).
/// </summary>
public static class ClientAddress
{
    /// <summary>The key of a connection without an IP peer (a Unix socket, an in-memory test server).</summary>
    public static readonly UInt128 Unknown = UInt128.Zero;

    public static UInt128 Of(HttpContext http) => Of(http.Connection.RemoteIpAddress);

    public static UInt128 Of(IPAddress? address)
    {
        if (address is null)
        {
            return Unknown;
        }
        var v6 = address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6() : address;
        Span<byte> bytes = stackalloc byte[16];
        if (!v6.TryWriteBytes(bytes, out _))
        {
            return Unknown;
        }
        if (!v6.IsIPv4MappedToIPv6)
        {
            bytes[8..].Clear();
        }
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }
}
