using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

namespace WinDi.Tests.AppHost;

/// <summary>
/// The real AppHost, started once for <see cref="AppHostTests"/>: PostgreSQL and Redis containers, the
/// migration worker, two API replicas behind the DCP proxy. It needs the Aspire packages and Docker or
/// Podman, so it is compiled only with <c>-p:WinDiAppHostTests=true</c>.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public const int ApiReplicas = 2;

    /// <summary>Generous: the first run pulls the postgres and redis images.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);

    private IDistributedApplicationTestingBuilder? builder;
    private DistributedApplication? app;

    public DistributedApplication App => app ?? throw new InvalidOperationException("The AppHost has not started.");

    /// <summary>The migration worker's last state: terminal by the time the tests run.</summary>
    public ResourceEvent Migrations { get; private set; } = null!;

    /// <summary>The api resource once healthy (its health check goes through the proxy).</summary>
    public ResourceEvent Api { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.WinDi_AppHost>(timeout.Token);
        builder.Configuration["Parameters:jwt-secret"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));

        // A fresh database on every run, so that the seed ids are those of the README and a developer's
        // data in the AppHost's named volume is neither read nor changed by the tests.
        var postgres = builder.Resources.Single(r => r.Name == "postgres");
        foreach (var mount in postgres.Annotations.OfType<ContainerMountAnnotation>().ToList())
        {
            postgres.Annotations.Remove(mount);
        }

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

    /// <summary>
    /// Each API replica's own address, bypassing the proxy. Aspire 13.1 has no per-replica endpoint API
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
    }
}
