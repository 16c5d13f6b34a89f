using System.Diagnostics;

namespace WinDi.Tests.AppHost;

/// <summary>
/// What a deployment tool reads: the manifest that <c>dotnet run --project WinDi.AppHost -- --publisher manifest</c>
/// writes. Publishing always describes containers, whatever this machine runs.
/// </summary>
public sealed class ManifestTests
{
    [Fact(Timeout = 120_000)]
    public async Task TheManifestHasEveryResourceAndGivesTheServicesExactlyTheKeysTheyRead()
    {
        var manifest = await PublishManifestAsync(TestContext.Current.CancellationToken);
        var resources = manifest.GetProperty("resources");

        Assert.Equal("container.v0", resources.GetProperty("postgres").GetProperty("type").GetString());
        Assert.Contains("postgres", resources.GetProperty("postgres").GetProperty("image").GetString());
        Assert.Equal("{postgres.connectionString};Database=windi", resources.GetProperty("windi").GetProperty("connectionString").GetString());
        Assert.Equal("container.v0", resources.GetProperty("redis").GetProperty("type").GetString());
        Assert.Contains("redis", resources.GetProperty("redis").GetProperty("image").GetString());

        var jwtSecret = resources.GetProperty("jwt-secret");
        Assert.Equal("parameter.v0", jwtSecret.GetProperty("type").GetString());
        Assert.True(jwtSecret.GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());

        var migrations = EnvironmentOf(resources, "migrations");
        Assert.Equal("{windi.connectionString}", migrations["ConnectionStrings__windi"]);
        Assert.Equal("true", migrations["Seed__TestData"]);

        var api = EnvironmentOf(resources, "api");
        Assert.Equal("{windi.connectionString}", api["ConnectionStrings__windi"]);
        Assert.Equal("{redis.connectionString}", api["ConnectionStrings__redis"]);
        Assert.Equal("{jwt-secret.value}", api["Jwt__Secret"]);
        Assert.True(resources.GetProperty("api").GetProperty("bindings").GetProperty("http").GetProperty("external").GetBoolean());

        // Only the connection strings: no per-property variables (WINDI_PASSWORD, REDIS_PASSWORD, ...).
        foreach (var service in new[] { migrations, api })
        {
            Assert.DoesNotContain(service.Keys, key => key.StartsWith("WINDI_", StringComparison.Ordinal) || key.StartsWith("REDIS_", StringComparison.Ordinal));
        }
    }

    private static Dictionary<string, string> EnvironmentOf(JsonElement resources, string name)
    {
        var resource = resources.GetProperty(name);
        Assert.Equal("project.v0", resource.GetProperty("type").GetString());
        return resource.GetProperty("env").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    private static async Task<JsonElement> PublishManifestAsync(CancellationToken cancellationToken)
    {
        var output = Directory.CreateTempSubdirectory("windi-manifest-");
        try
        {
            var path = Path.Combine(output.FullName, "aspire-manifest.json");
            var start = new ProcessStartInfo("dotnet", ["run", "--project", Projects.WinDi_AppHost.ProjectPath, "--no-build", "--no-launch-profile",
                "--", "--publisher", "manifest", "--output-path", path])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            Assert.True(process.ExitCode == 0, $"The manifest publisher exited {process.ExitCode}: {await stderr}{await stdout}");
            await using var file = File.OpenRead(path);
            using var document = await JsonDocument.ParseAsync(file, cancellationToken: cancellationToken);
            return document.RootElement.Clone();
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }
}
