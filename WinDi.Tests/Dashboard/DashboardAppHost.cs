using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace WinDi.Tests.Dashboard;

/// <summary>
/// The dashboard tests run alone, after the parallel tests, like the AppHost tests: the whole application,
/// its dashboard and a browser on two cores beside a hundred other tests make start-up times meaningless.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DashboardTestGroup
{
    public const string Name = "Dashboard";
}

/// <summary>
/// The real AppHost as a developer starts it (<c>dotnet run --launch-profile http</c>, what run.sh runs), as a
/// child process, with its dashboard, in the no-container mode: a fresh PostgreSQL cluster in a temporary
/// directory, Redis, the migration worker and two API replicas. Every port is DCP's random choice or a free
/// one of ours, so it never meets a developer's running instance (dashboard 15180, API 8000) or the other
/// AppHost tests. Stopping it is checked: every process it started carries a marker variable in its
/// environment (children inherit the AppHost's) or descends from one that does, and none may be left once it
/// has stopped.
/// </summary>
public sealed partial class DashboardAppHost : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);
    private const string MarkerVariable = "WINDI_DASHBOARD_TEST_RUN";

    private readonly string marker = Guid.NewGuid().ToString("N");
    private readonly StringBuilder output = new();
    private readonly TaskCompletionSource<Uri> loginUrl = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? apphost;
    private ProcessTracker? tracker;
    private DirectoryInfo? temp;

    /// <summary>The AppHost project's directory: Aspire's generated ProjectPath names the directory for this project, not its .csproj.</summary>
    public static string AppHostDirectory { get; } = Directory.Exists(Projects.WinDi_AppHost.ProjectPath)
        ? Projects.WinDi_AppHost.ProjectPath
        : Path.GetDirectoryName(Projects.WinDi_AppHost.ProjectPath)!;

    public static string RepositoryRoot { get; } = Path.GetFullPath(Path.Combine(AppHostDirectory, ".."));

    /// <summary>The URL the AppHost prints, with the dashboard's login token (each browser context logs in with it).</summary>
    public Uri LoginUrl { get; private set; } = null!;

    public Uri DashboardAddress => new(LoginUrl.GetLeftPart(UriPartial.Authority));

    /// <summary>The HMAC key given to the AppHost as Parameters:jwt-secret: one more secret the dashboard must not show.</summary>
    public string JwtSecret { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();

    /// <summary>When the process started, for the tests' own deadlines.</summary>
    public Stopwatch SinceStart { get; } = new();

    /// <summary>Time from starting the process to the login URL.</summary>
    public TimeSpan TimeToLoginUrl { get; private set; }

    /// <summary>The AppHost's console output so far (stdout and stderr).</summary>
    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public async ValueTask InitializeAsync()
    {
        // A fresh cluster, so that the seed ids are the README's and a developer's .windi/ stays untouched. The
        // AppHost initdb's it as the postgres user, who must be able to reach it: hence o+x on the parent.
        temp = Directory.CreateTempSubdirectory("windi-dashboard-");
        if (!OperatingSystem.IsWindows())
        {
            temp.UnixFileMode |= UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot, // where run.sh runs it
        };
        foreach (var arg in new[] { "run", "--project", AppHostDirectory, "--no-build", "--configuration", BuildConfiguration, "--launch-profile", "http", "--" })
        {
            start.ArgumentList.Add(arg);
        }
        // dotnet run writes the launch profile's variables over the environment (ASPNETCORE_URLS=localhost:15180 and
        // the OTLP, MCP and resource service URLs), so the addresses go as arguments, which the AppHost's
        // configuration ranks above the environment. DCP's random ports then replace even these ports (that is what
        // moves the API's proxy off 8000); the free loopback ports stay in case a later Aspire stops doing so.
        foreach (var name in new[] { "ASPNETCORE_URLS", "ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL", "ASPIRE_DASHBOARD_MCP_ENDPOINT_URL", "ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL" })
        {
            start.ArgumentList.Add($"{name}=http://127.0.0.1:{PostgresServer.FreePort()}");
        }
        start.Environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        start.Environment["DcpPublisher__RandomizePorts"] = "true";
        start.Environment["WinDi__Infrastructure"] = "local";
        start.Environment["WinDi__PostgresData"] = Path.Combine(temp.FullName, "data");
        start.Environment["Parameters__jwt-secret"] = JwtSecret;
        start.Environment[MarkerVariable] = marker;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, line) => OnOutput(line.Data);
        process.ErrorDataReceived += (_, line) => OnOutput(line.Data);
        process.Exited += (_, _) =>
        {
            // Only while starting: once the URL is in (or the start has failed), this process is DisposeAsync's.
            if (!loginUrl.Task.IsCompleted)
            {
                loginUrl.TrySetException(new InvalidOperationException(
                    $"The AppHost exited with code {process.ExitCode} before it printed the dashboard's login URL:{Environment.NewLine}{Output}"));
            }
        };
        SinceStart.Start();
        process.Start();
        apphost = process;
        tracker = new ProcessTracker(MarkerVariable, marker);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            LoginUrl = await loginUrl.Task.WaitAsync(StartTimeout);
            TimeToLoginUrl = SinceStart.Elapsed;
        }
        catch (Exception failed)
        {
            // Whatever started is stopped before the failure is reported (the fixture is not used after this).
            loginUrl.TrySetCanceled();
            await DisposeAsync();
            if (failed is TimeoutException)
            {
                throw new TimeoutException($"The AppHost printed no dashboard login URL within {StartTimeout.TotalSeconds} s:{Environment.NewLine}{Output}");
            }
            throw;
        }
    }

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (output)
        {
            output.AppendLine(line);
        }
        if (LoginLine().Match(line) is { Success: true } match)
        {
            loginUrl.TrySetResult(new Uri(match.Groups["url"].Value));
        }
    }

    [GeneratedRegex(@"Login to the dashboard at (?<url>https?://\S+/login\?t=[0-9a-f]+)")]
    private static partial Regex LoginLine();

    /// <summary>The configuration the test project (and so the referenced AppHost) was built in, for --no-build.</summary>
    private static string BuildConfiguration =>
        typeof(DashboardAppHost).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>
    /// Stops the AppHost the way a service manager does (SIGTERM; dotnet run passes it on), and DCP stops everything
    /// it started: about 15 s here, most of it DCP's. Waits until every process of this run is gone;
    /// kills any that outlive <see cref="StopTimeout"/>, and then fails, naming them. Safe to call twice.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        var leftovers = new List<string>();
        if (Interlocked.Exchange(ref apphost, null) is { } process)
        {
            if (!process.HasExited)
            {
                await SignalAsync(process.Id, "TERM");
                using var stopped = new CancellationTokenSource(StopTimeout);
                try
                {
                    await process.WaitForExitAsync(stopped.Token);
                }
                catch (OperationCanceledException)
                {
                    leftovers.Add($"{process.Id} dotnet run (the AppHost): still running {StopTimeout.TotalSeconds} s after SIGTERM");
                    process.Kill(entireProcessTree: true);
                }
            }
            // DCP runs outside the AppHost's process tree (it detaches) and stops the servers after the AppHost
            // has gone, so wait for the processes themselves (see ProcessTracker).
            var deadline = Stopwatch.StartNew();
            var alive = Processes();
            while (alive.Count > 0 && deadline.Elapsed < StopTimeout)
            {
                await Task.Delay(500);
                alive = Processes();
            }
            foreach (var (pid, command) in alive)
            {
                leftovers.Add($"{pid} {command}");
                try
                {
                    using var straggler = Process.GetProcessById(pid);
                    straggler.Kill();
                }
                catch (ArgumentException)
                {
                    // Gone by now.
                }
            }
            process.Dispose();
        }
        if (Interlocked.Exchange(ref tracker, null) is { } following)
        {
            await following.DisposeAsync();
        }
        if (Interlocked.Exchange(ref temp, null) is { } directory)
        {
            directory.Delete(recursive: true);
        }
        if (leftovers.Count > 0)
        {
            throw new InvalidOperationException(
                $"The AppHost left processes behind after SIGTERM (killed now):{Environment.NewLine}{string.Join(Environment.NewLine, leftovers)}");
        }
    }

    /// <summary>The processes of this run alive now: dotnet run, the AppHost, DCP, the dashboard, the servers, the API replicas.</summary>
    public IReadOnlyList<(int Pid, string Command)> Processes() => tracker?.Alive() ?? [];

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync();
    }
}
