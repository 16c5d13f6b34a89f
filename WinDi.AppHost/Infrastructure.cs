using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace WinDi.AppHost;

/// <summary>Where PostgreSQL and Redis come from.</summary>
public enum InfrastructureMode
{
    /// <summary>Containers (<c>AddPostgres().WithDataVolume()</c>, <c>AddRedis()</c>): needs a healthy Docker or Podman.</summary>
    Containers,

    /// <summary>The locally installed server binaries, run by the AppHost as executables (PostgreSQL's data under <c>.windi/</c>).</summary>
    LocalProcesses,
}

/// <summary>
/// Chooses, once at start, how the AppHost provides PostgreSQL and Redis, and adds them. A connection string
/// given to the AppHost (<c>ConnectionStrings__windi</c>, <c>ConnectionStrings__redis</c>) always wins for that
/// server. Otherwise the setting <c>WinDi:Infrastructure</c> (<c>containers</c>, <c>local</c>, or <c>auto</c>,
/// the default) decides; <c>auto</c> asks the container runtime whether it is healthy. Publishing always
/// describes containers.
/// </summary>
public sealed class Infrastructure
{
    public const string SettingKey = "WinDi:Infrastructure";
    public const string DatabaseName = "windi";
    public const string RedisName = "redis";

    private Infrastructure(InfrastructureMode mode) => Mode = mode;

    public InfrastructureMode Mode { get; }

    public static Infrastructure Choose(IDistributedApplicationBuilder builder)
    {
        var setting = builder.Configuration[SettingKey] ?? "auto";
        var mode = setting.ToLowerInvariant() switch
        {
            _ when builder.ExecutionContext.IsPublishMode => InfrastructureMode.Containers,
            "containers" => InfrastructureMode.Containers,
            "local" => InfrastructureMode.LocalProcesses,
            "auto" => ContainerRuntimeIsHealthy(builder.Configuration["ASPIRE_CONTAINER_RUNTIME"]) ? InfrastructureMode.Containers : InfrastructureMode.LocalProcesses,
            _ => throw new InvalidOperationException($"{SettingKey} is '{setting}'; use 'auto', 'containers' or 'local'."),
        };
        return new Infrastructure(mode);
    }

    /// <summary>The database <c>windi</c>, as <c>ConnectionStrings__windi</c> for whatever references it.</summary>
    public IResourceBuilder<IResourceWithConnectionString> AddDatabase(IDistributedApplicationBuilder builder)
    {
        if (!string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(DatabaseName)))
        {
            return AddGiven(builder, DatabaseName, ServerAnswers.Postgres);
        }
        return Mode == InfrastructureMode.Containers
            ? builder.AddPostgres("postgres").WithDataVolume().AddDatabase(DatabaseName)
            : builder.AddLocalPostgres("postgres").AddDatabase(DatabaseName);
    }

    /// <summary>Redis, as <c>ConnectionStrings__redis</c>.</summary>
    public IResourceBuilder<IResourceWithConnectionString> AddRedis(IDistributedApplicationBuilder builder)
    {
        if (!string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(RedisName)))
        {
            return AddGiven(builder, RedisName, ServerAnswers.Redis);
        }
        return Mode == InfrastructureMode.Containers
            ? builder.AddRedis(RedisName)
            : builder.AddLocalRedis(RedisName);
    }

    /// <summary>A server named by a connection string, with a health check so that WaitFor means "it answers".</summary>
    private static IResourceBuilder<IResourceWithConnectionString> AddGiven(
        IDistributedApplicationBuilder builder, string name, Func<string, CancellationToken, Task> probe) =>
        ServerAnswers.For(builder.AddConnectionString(name), probe);

    /// <summary>True when <c>docker info</c> (or the runtime in ASPIRE_CONTAINER_RUNTIME) reaches a daemon within 10 s.</summary>
    public static bool ContainerRuntimeIsHealthy(string? runtime)
    {
        runtime ??= "docker";
        try
        {
            var start = new ProcessStartInfo(runtime, ["info", "--format", "{{.ServerVersion}}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start);
            if (process is null)
            {
                return false;
            }
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not installed
        }
    }
}
