using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace WinDi.AppHost;

/// <summary>
/// PostgreSQL from the local installation (<c>/usr/lib/postgresql/*/bin</c>), for machines without a container
/// runtime. The cluster lives in <c>.windi/postgres</c> of the repository (or <c>WinDi:PostgresData</c>), is
/// created by a run-once <c>postgres-init</c> (initdb) the first time, and accepts local connections as the
/// <c>postgres</c> user without a password, on 127.0.0.1 only. PostgreSQL refuses to run as root, so as root
/// both run as the <c>postgres</c> system user (setpriv execs in place, so DCP's stop signal reaches the server).
/// </summary>
public sealed class LocalPostgresServer(string name, string command, string workingDirectory)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public EndpointReference Endpoint => new(this, "tcp");

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={Endpoint.Property(EndpointProperty.Host)};Port={Endpoint.Property(EndpointProperty.Port)};Username=postgres");
}

/// <summary>A database on <see cref="LocalPostgresServer"/>, created by the AppHost once the server answers.</summary>
public sealed class LocalPostgresDatabase(string name, LocalPostgresServer parent)
    : Resource(name), IResourceWithParent<LocalPostgresServer>, IResourceWithConnectionString
{
    public LocalPostgresServer Parent { get; } = parent;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={Name}");
}

public static class LocalPostgresExtensions
{
    public const string DataSetting = "WinDi:PostgresData";

    private static readonly string[] ServerSettings = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="];
    private static readonly string[] InitdbSettings = ["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"];

    public static IResourceBuilder<LocalPostgresServer> AddLocalPostgres(this IDistributedApplicationBuilder builder, string name)
    {
        var bin = FindServerBinaries();
        var data = Path.GetFullPath(builder.Configuration[DataSetting]
            ?? Path.Combine(builder.AppHostDirectory, "..", ".windi", "postgres"));
        var asRoot = Environment.UserName == "root";

        var server = builder.AddResource(new LocalPostgresServer(name, Runner(asRoot, bin, "postgres"), builder.AppHostDirectory))
            .WithEndpoint(name: "tcp", scheme: "tcp")
            .WithArgs(context =>
            {
                RunAs(asRoot, Path.Combine(bin, "postgres"), context.Args);
                context.Args.Add("-D");
                context.Args.Add(data);
                context.Args.Add("-p");
                context.Args.Add(((LocalPostgresServer)context.Resource).Endpoint.Property(EndpointProperty.TargetPort));
                foreach (var arg in ServerSettings)
                {
                    context.Args.Add(arg);
                }
            })
            .WithIconName("DatabaseMultiple")
            .ExcludeFromManifest();

        ServerAnswers.For(server, (connectionString, ct) => ServerAnswers.Postgres(connectionString + ";Database=postgres", ct));

        if (builder.ExecutionContext.IsRunMode && !File.Exists(Path.Combine(data, "PG_VERSION")))
        {
            PrepareDataDirectory(data, asRoot);
            var init = builder.AddExecutable($"{name}-init", Runner(asRoot, bin, "initdb"), builder.AppHostDirectory)
                .WithArgs(context =>
                {
                    RunAs(asRoot, Path.Combine(bin, "initdb"), context.Args);
                    context.Args.Add("-D");
                    context.Args.Add(data);
                    foreach (var arg in InitdbSettings)
                    {
                        context.Args.Add(arg);
                    }
                })
                .WithParentRelationship(server)
                .ExcludeFromManifest();
            server.WaitForCompletion(init);
        }
        return server;
    }

    public static IResourceBuilder<LocalPostgresDatabase> AddDatabase(this IResourceBuilder<LocalPostgresServer> server, string name)
    {
        var builder = server.ApplicationBuilder;
        var database = builder.AddResource(new LocalPostgresDatabase(name, server.Resource))
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "PostgresDatabase",
                State = KnownResourceStates.Waiting,
                Properties = [],
            })
            .WithIconName("Database")
            .ExcludeFromManifest();

        ServerAnswers.For(database, ServerAnswers.PostgresDatabase);

        // DCP only follows the processes it runs: this resource's state is the AppHost's to publish.
        builder.Eventing.Subscribe<ResourceReadyEvent>(server.Resource, async (ready, ct) =>
        {
            var connectionString = await server.Resource.ConnectionStringExpression.GetValueAsync(ct);
            await CreateDatabaseAsync(connectionString!, name, ct);
            var notifications = ready.Services.GetRequiredService<ResourceNotificationService>();
            await notifications.PublishUpdateAsync(database.Resource, snapshot => snapshot with
            {
                State = KnownResourceStates.Running,
                StartTimeStamp = DateTime.UtcNow,
            });
        });
        return database;
    }

    private static async Task CreateDatabaseAsync(string serverConnectionString, string database, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(serverConnectionString + ";Database=postgres;Pooling=false");
        await connection.OpenAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync(ct) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", connection);
            await create.ExecuteNonQueryAsync(ct);
        }
    }

    private static string Runner(bool asRoot, string bin, string program) => asRoot ? "setpriv" : Path.Combine(bin, program);

    /// <summary>As root the command is setpriv, and the program comes first among its arguments.</summary>
    private static void RunAs(bool asRoot, string program, IList<object> args)
    {
        if (asRoot)
        {
            foreach (var arg in new[] { "--reuid=postgres", "--regid=postgres", "--init-groups", "--", program })
            {
                args.Add(arg);
            }
        }
    }

    private static string FindServerBinaries()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(version => Path.Combine(version, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderByDescending(b => b, StringComparer.Ordinal).FirstOrDefault()
            : null;
        return bin ?? throw new InvalidOperationException(
            "No container runtime is healthy and PostgreSQL's server binaries were not found under /usr/lib/postgresql/*/bin: " +
            "install them (Debian: apt-get install -y postgresql), start Docker or Podman, or give ConnectionStrings__windi.");
    }

    private static void PrepareDataDirectory(string data, bool asRoot)
    {
        Directory.CreateDirectory(data);
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        File.SetUnixFileMode(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (asRoot)
        {
            using var chown = Process.Start("chown", ["postgres:postgres", data]);
            chown.WaitForExit();
            if (chown.ExitCode != 0)
            {
                throw new InvalidOperationException($"chown postgres:postgres {data} failed: PostgreSQL needs a 'postgres' system user to run as when the AppHost runs as root.");
            }
        }
    }
}
