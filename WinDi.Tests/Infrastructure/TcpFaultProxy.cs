using System.Net;
using System.Net.Sockets;

namespace WinDi.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on loopback in front of a real server, which a test can cut (every open connection is reset
/// and new ones are refused, as when the server goes down) and restore on the same port.
/// </summary>
public sealed class TcpFaultProxy : IAsyncDisposable
{
    private readonly IPEndPoint target;
    private readonly List<TcpClient> open = [];
    private readonly Lock gate = new();
    private TcpListener? listener;
    private Task accepting = Task.CompletedTask;

    public TcpFaultProxy(string targetHost, int targetPort)
    {
        target = new IPEndPoint(IPAddress.Parse(targetHost), targetPort);
        Port = PostgresServer.FreePort();
        Restore();
    }

    public int Port { get; }

    public void Restore()
    {
        listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Start();
        accepting = AcceptAsync(listener);
    }

    public async Task CutAsync()
    {
        listener?.Stop();
        await accepting;
        lock (gate)
        {
            foreach (var client in open)
            {
                try
                {
                    client.Client?.LingerState = new LingerOption(true, 0); // a reset, as from a dead server
                }
                catch (ObjectDisposedException)
                {
                    // Closed by its pipe already.
                }
                client.Dispose();
            }
            open.Clear();
        }
    }

    private async Task AcceptAsync(TcpListener server)
    {
        while (true)
        {
            TcpClient inbound;
            try
            {
                inbound = await server.AcceptTcpClientAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return; // cut
            }
            var outbound = new TcpClient();
            try
            {
                await outbound.ConnectAsync(target);
            }
            catch (SocketException)
            {
                inbound.Dispose();
                outbound.Dispose();
                continue;
            }
            lock (gate)
            {
                open.Add(inbound);
                open.Add(outbound);
            }
            _ = PipeAsync(inbound, outbound);
            _ = PipeAsync(outbound, inbound);
        }
    }

    private static async Task PipeAsync(TcpClient from, TcpClient to)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream());
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await CutAsync();
}
