using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

namespace WinDi.Tests.AppHost;

/// <summary>
/// The AppHost tests run alone, after the rest: the whole application on two cores beside a hundred other
/// tests makes start-up times meaningless, and its processes take ports from the same ephemeral range.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AppHostTestGroup : ICollectionFixture<AppHostFixture>
{
    public const string Name = "AppHost";
}

/// <summary>
/// The real AppHost, started once for <see cref="AppHostTests"/> in the no-container mode that machines
/// without a container runtime use: PostgreSQL (a fresh cluster in a temporary directory) and Redis as local
/// processes, the migration worker, two API replicas behind the DCP proxy.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public const int ApiReplicas = 2;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private IDistributedApplicationTestingBuilder? builder;
    private DistributedApplication? app;
    private string? postgresData;

    public DistributedApplication App => app ?? throw new InvalidOperationException("The AppHost has not started.");

    /// <summary>The migration worker's last state: terminal by the time the tests run.</summary>
    public ResourceEvent Migrations { get; private set; } = null!;

    /// <summary>The api resource once healthy (its health check goes through the proxy).</summary>
    public ResourceEvent Api { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        // A fresh cluster on every run, so that the seed ids are those of the README and a developer's data
        // under .windi/ is neither read nor changed. Its parent must be traversable by the postgres user.
        var parent = Directory.CreateTempSubdirectory("windi-apphost-");
        if (!OperatingSystem.IsWindows())
        {
            parent.UnixFileMode |= UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        }
        postgresData = parent.FullName;

        builder = await CreateBuilderAsync("local", [$"{WinDi.AppHost.LocalPostgresExtensions.DataSetting}={Path.Combine(postgresData, "data")}"], timeout.Token);

        app = await builder.BuildAsync(timeout.Token);
        await app.StartAsync(timeout.Token);

        // Same test as WaitForCompletion: a terminal state, or an exit code.
        Migrations = await app.ResourceNotifications.WaitForResourceAsync(
            "migrations",
            e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text) || e.Snapshot.ExitCode is not null,
            timeout.Token);
        if (Migrations.Snapshot.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"The migration worker ended '{Migrations.Snapshot.State?.Text}' with exit code '{Migrations.Snapshot.ExitCode}', so the API never starts.");
        }
        // StopOnResourceUnavailable: fail at once if the API cannot start (for example after a failed migration).
        Api = await app.ResourceNotifications.WaitForResourceHealthyAsync("api", WaitBehavior.StopOnResourceUnavailable, timeout.Token);
    }

    /// <summary>The AppHost for a test: the given infrastructure mode and settings, a random JWT secret, no OTLP exporter.</summary>
    public static async Task<IDistributedApplicationTestingBuilder> CreateBuilderAsync(string infrastructure, IEnumerable<string> settings, CancellationToken ct)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.WinDi_AppHost>(
            [
                $"{WinDi.AppHost.Infrastructure.SettingKey}={infrastructure}",
                $"Parameters:jwt-secret={Convert.ToHexString(RandomNumberGenerator.GetBytes(32))}",
                .. settings,
            ],
            ct);
        WithoutOtlpExporter(builder);
        return builder;
    }

    /// <summary>
    /// The testing builder turns the dashboard off, and without it every service would export to
    /// localhost:4317, where nothing listens, and wait on that exporter when it stops.
    /// </summary>
    private static void WithoutOtlpExporter(IDistributedApplicationTestingBuilder builder)
    {
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            builder.CreateResourceBuilder(project).WithEnvironment(context =>
            {
                foreach (var key in context.EnvironmentVariables.Keys.Where(k => k.StartsWith("OTEL_EXPORTER_OTLP", StringComparison.Ordinal)).ToList())
                {
                    context.EnvironmentVariables.Remove(key);
                }
            });
        }
    }

    /// <summary>
    /// Each API replica's own address, bypassing the proxy. Aspire has no per-replica endpoint API
    /// (GetEndpoint and CreateHttpClient give the proxy), but every replica is a resource instance of its own
    /// in ResourceNotificationService, and its snapshot carries the environment DCP started it with:
    /// ASPNETCORE_URLS holds the port that replica listens on.
    /// </summary>
    public async Task<IReadOnlyList<Uri>> ReplicaAddressesAsync(CancellationToken cancellationToken)
    {
        var replicas = new Dictionary<string, Uri>();
        try
        {
            // WatchAsync replays the latest snapshot of every resource instance, then follows updates.
            await foreach (var e in App.ResourceNotifications.WatchAsync(cancellationToken))
            {
                if (e.Resource.Name == "api" && e.Snapshot.State?.Text == KnownResourceStates.Running && OwnAddress(e.Snapshot) is { } address)
                {
                    replicas[e.ResourceId] = address;
                    if (replicas.Count == ApiReplicas)
                    {
                        return [.. replicas.Values];
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Reported below.
        }
        throw new TimeoutException($"Found {replicas.Count} running api replica(s) with an address of their own in time, expected {ApiReplicas}.");
    }

    private static Uri? OwnAddress(CustomResourceSnapshot snapshot)
    {
        // "http://localhost:41873" once DCP has filled in the port; the spec still holds a template before that.
        var urls = snapshot.EnvironmentVariables.FirstOrDefault(v => v.Name == "ASPNETCORE_URLS")?.Value;
        var first = urls?.Split(';')[0];
        return first is not null && !first.Contains("{{", StringComparison.Ordinal) && Uri.TryCreate(first, UriKind.Absolute, out var uri) ? uri : null;
    }

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }
        if (builder is not null)
        {
            await builder.DisposeAsync();
        }
        if (postgresData is not null)
        {
            Directory.Delete(postgresData, recursive: true);
        }
    }
}
