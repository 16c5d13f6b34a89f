namespace WinDi.AppHost;

/// <summary>
/// Redis from the local installation (<c>redis-server</c> on PATH), for machines without a container runtime:
/// on 127.0.0.1, a port of DCP's choosing, no persistence (it only relays events between API replicas).
/// </summary>
public sealed class LocalRedisServer(string name, string command, string workingDirectory)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public EndpointReference Endpoint => new(this, "tcp");

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{Endpoint.Property(EndpointProperty.Host)}:{Endpoint.Property(EndpointProperty.Port)}");
}

public static class LocalRedisExtensions
{
    private static readonly string[] ServerSettings = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];

    public static IResourceBuilder<LocalRedisServer> AddLocalRedis(this IDistributedApplicationBuilder builder, string name)
    {
        var command = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(directory => Path.Combine(directory, "redis-server")).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                "No container runtime is healthy and redis-server is not on PATH: install it (Debian: apt-get install -y redis-server), " +
                "start Docker or Podman, or give ConnectionStrings__redis.");

        var redis = builder.AddResource(new LocalRedisServer(name, command, builder.AppHostDirectory))
            .WithEndpoint(name: "tcp", scheme: "tcp")
            .WithArgs(context =>
            {
                context.Args.Add("--port");
                context.Args.Add(((LocalRedisServer)context.Resource).Endpoint.Property(EndpointProperty.TargetPort));
                foreach (var arg in ServerSettings)
                {
                    context.Args.Add(arg);
                }
            })
            .WithIconName("Memory")
            .ExcludeFromManifest();

        return ServerAnswers.For(redis, ServerAnswers.Redis);
    }
}
