using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using AppHostInfrastructure = WinDi.AppHost.Infrastructure;

namespace WinDi.Tests.AppHost;

/// <summary>
/// The AppHost with PostgreSQL and Redis as containers (AddPostgres().WithDataVolume(), AddRedis()). It runs
/// where Docker or Podman is healthy and is skipped, saying so, where neither is.
/// </summary>
[Collection(AppHostTestGroup.Name)]
public sealed class ContainerModeTests
{
    [Fact(Timeout = 600_000)]
    public async Task WithAHealthyContainerRuntimeTheDatabaseAndRedisAreContainersAndTheApiBecomesHealthy()
    {
        var runtime = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME");
        Assert.SkipUnless(AppHostInfrastructure.ContainerRuntimeIsHealthy(runtime),
            $"No healthy container runtime ('{runtime ?? "docker"} info' fails): the container mode cannot run here.");

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(8)); // the first run pulls the images
        await using var builder = await AppHostFixture.CreateBuilderAsync("containers", [], timeout.Token);
        Assert.IsType<ContainerResource>(builder.Resources.Single(r => r.Name == "postgres"), exactMatch: false);
        Assert.IsType<ContainerResource>(builder.Resources.Single(r => r.Name == "redis"), exactMatch: false);
        // A fresh database: a developer's data volume is neither read nor changed.
        var postgres = builder.Resources.Single(r => r.Name == "postgres");
        foreach (var mount in postgres.Annotations.OfType<ContainerMountAnnotation>().ToList())
        {
            postgres.Annotations.Remove(mount);
        }

        await using var app = await builder.BuildAsync(timeout.Token);
        await app.StartAsync(timeout.Token);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("api", WaitBehavior.StopOnResourceUnavailable, timeout.Token);
        using var http = app.CreateHttpClient("api");
        using var response = await http.GetAsync("/health", timeout.Token);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(timeout.Token));
    }
}
