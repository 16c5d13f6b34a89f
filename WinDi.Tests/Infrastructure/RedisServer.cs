using System.Diagnostics;
using System.Net.Sockets;
using StackExchange.Redis;

[assembly: AssemblyFixture(typeof(WinDi.Tests.Infrastructure.RedisServer))]

namespace WinDi.Tests.Infrastructure;

/// <summary>
/// A real Redis for the whole test run: the one in WINDI_TEST_REDIS (a StackExchange.Redis configuration
/// string), or else a throwaway redis-server started from the local installation. Tests that stop Redis
/// start a private instance of their own with <see cref="StartPrivateAsync"/>.
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    private RedisProcess? shared;

    public string ConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable("WINDI_TEST_REDIS");
        if (!string.IsNullOrWhiteSpace(external))
        {
            ConnectionString = external;
            return;
        }
        shared = await StartPrivateAsync();
        ConnectionString = shared.ConnectionString;
    }

    public static async Task<RedisProcess> StartPrivateAsync()
    {
        var process = new RedisProcess(PostgresServer.FreePort());
        await process.StartAsync();
        return process;
    }

    /// <summary>Redis's clock in Unix milliseconds, the clock connection leases are scored by.</summary>
    public static async Task<long> MillisecondsAsync(IDatabase db)
    {
        var time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        return (long)time[0] * 1000 + (long)time[1] / 1000;
    }

    public async ValueTask DisposeAsync()
    {
        if (shared is not null)
        {
            await shared.DisposeAsync();
        }
    }
}

/// <summary>One redis-server on loopback without persistence, which a test can stop and start again on the same port.</summary>
public sealed class RedisProcess(int port) : IAsyncDisposable
{
    private Process? process;

    public string ConnectionString => $"127.0.0.1:{port}";

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo(FindRedisServer(), ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public async Task StopAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        process?.Dispose();
        process = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private static string FindRedisServer()
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(directory => Path.Combine(directory, "redis-server")).FirstOrDefault(File.Exists);
        return found ?? throw new InvalidOperationException(
            "The tests need Redis: redis-server is not on PATH. Install it (Debian: apt-get install -y redis-server), " +
            "or set WINDI_TEST_REDIS to the StackExchange.Redis configuration string of a Redis the tests may use.");
    }
}
