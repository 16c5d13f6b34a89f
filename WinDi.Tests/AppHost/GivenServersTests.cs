using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

namespace WinDi.Tests.AppHost;

/// <summary>
/// Connection strings given to the AppHost win over containers and local processes: the AppHost starts no
/// server of its own (AddConnectionString), waits until the given ones answer, and wires them in.
/// </summary>
[Collection(AppHostTestGroup.Name)]
public sealed class GivenServersTests(PostgresServer postgres, RedisServer redis)
{
    [Fact(Timeout = 300_000)]
    public async Task WithConnectionStringsTheAppHostUsesThoseServersAndStartsNoneOfItsOwn()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(4));
        // A database of its own on the test server; the worker migrates and seeds it.
        var database = await postgres.CreateDatabaseAsync("windi_given");
        await using var builder = await AppHostFixture.CreateBuilderAsync(
            "local", [$"ConnectionStrings:windi={database}", $"ConnectionStrings:redis={redis.ConnectionString}"], timeout.Token);

        Assert.IsType<ParameterResource>(builder.Resources.Single(r => r.Name == "windi"), exactMatch: false);
        Assert.IsType<ParameterResource>(builder.Resources.Single(r => r.Name == "redis"), exactMatch: false);
        // No server of its own: neither a PostgreSQL (container or process, with its init) nor a Redis.
        Assert.DoesNotContain(builder.Resources, r => r.Name is "postgres" or "postgres-init");
        Assert.DoesNotContain(builder.Resources, r => r is ContainerResource);

        await using var app = await builder.BuildAsync(timeout.Token);
        await app.StartAsync(timeout.Token);
        var migrations = await app.ResourceNotifications.WaitForResourceAsync(
            "migrations", e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text) || e.Snapshot.ExitCode is not null, timeout.Token);
        Assert.Equal(0, migrations.Snapshot.ExitCode);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("api", WaitBehavior.StopOnResourceUnavailable, timeout.Token);

        using var http = app.CreateHttpClient("api");
        Assert.Equal("Healthy", await http.GetStringAsync("/health", timeout.Token));
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "alice.wright87@example.com", ["password"] = "Zx7!pTn9vR" });
        using var login = await http.PostAsync("/token", form, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        await using var given = Npgsql.NpgsqlDataSource.Create(database);
        await using var users = given.CreateCommand("SELECT count(*) FROM users");
        Assert.Equal(3L, await users.ExecuteScalarAsync(timeout.Token));
    }
}
