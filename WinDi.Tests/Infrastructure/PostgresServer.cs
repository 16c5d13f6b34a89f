using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using WinDi.Api.Data;
using WinDi.MigrationWorker;

[assembly: AssemblyFixture(typeof(PostgresServer))]

namespace WinDi.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL for the whole test run: the server named by WINDI_TEST_POSTGRES (a connection string
/// whose user may create databases), or else a throwaway cluster started from the local installation.
/// One database, migrated and seeded by the migration worker's own code, is shared; tests isolate their
/// data by registering their own people.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private string? clusterDirectory;
    private string? pgBin;

    public string AdminConnectionString { get; private set; } = "";
    public string ConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable("WINDI_TEST_POSTGRES");
        AdminConnectionString = string.IsNullOrWhiteSpace(external) ? await StartThrowawayClusterAsync() : external;
        ConnectionString = await CreateDatabaseAsync("windi_tests");
        await MigrateAsync(ConnectionString, seed: true);
    }

    /// <summary>A new, empty database on the same server (no schema).</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}";
        await using (var admin = new NpgsqlConnection(AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>
    /// A migrated database of its own whose messages refuse any text that contains <paramref name="refused"/>: a CHECK
    /// constraint, a rule the API's validation knows nothing about (as a new constraint, a trigger or an encoding rule
    /// would be), which PostgreSQL enforces on the writer's real statements.
    /// </summary>
    public async Task<string> CreateRefusingDatabaseAsync(string prefix, string refused)
    {
        var connectionString = await CreateDatabaseAsync(prefix);
        await MigrateAsync(connectionString, seed: false);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var constraint = new NpgsqlCommand($"ALTER TABLE messages ADD CONSTRAINT ck_messages_test_refusal CHECK (position('{refused}' in text) = 0)", connection);
        await constraint.ExecuteNonQueryAsync();
        return connectionString;
    }

    /// <summary>Runs the migration worker's migrator in-process against <paramref name="connectionString"/>.</summary>
    public static async Task MigrateAsync(string connectionString, bool seed)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["ConnectionStrings:windi"] = connectionString;
        builder.AddWinDiDatabase();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<DatabaseMigrator>();
        using var host = builder.Build();
        await host.Services.GetRequiredService<DatabaseMigrator>().RunAsync(seed, TimeSpan.FromSeconds(30), CancellationToken.None);
    }

    /// <summary>
    /// Holds the lock that orders message ids and seqs (VisibleOrder.LockKey) from another session until
    /// disposed: every send, edit and delete then waits in the database, as on a slow or busy server.
    /// </summary>
    /// <param name="connectionString">another database than the shared one (a test's own)</param>
    public async Task<IAsyncDisposable> HoldMessageOrderLockAsync(string? connectionString = null)
    {
        var connection = new NpgsqlConnection(connectionString ?? ConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand(WinDi.Api.Messages.VisibleOrder.TakeLockSql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = WinDi.Api.Messages.VisibleOrder.LockKey });
            await command.ExecuteNonQueryAsync();
        }
        return new HeldLock(connection, transaction);
    }

    private sealed class HeldLock(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await transaction.RollbackAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>Runs one statement on the tests' database, as a person with psql would (a row deleted behind the API's back).</summary>
    public async Task<int> ExecuteAsync(string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }
        return await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private async Task<string> StartThrowawayClusterAsync()
    {
        pgBin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin"))
                .Where(bin => File.Exists(Path.Combine(bin, "initdb"))).OrderByDescending(b => b, StringComparer.Ordinal).FirstOrDefault()
            : null;
        if (pgBin is null)
        {
            throw new InvalidOperationException(
                "The tests need PostgreSQL: no server binaries were found under /usr/lib/postgresql/*/bin. " +
                "Install PostgreSQL (Debian: apt-get install -y postgresql), or set WINDI_TEST_POSTGRES to the connection string " +
                "of a server where the tests may create databases.");
        }

        clusterDirectory = Directory.CreateTempSubdirectory("windi-tests-pg-").FullName;
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            await RunAsync("chown", ["postgres:postgres", clusterDirectory]);
        }
        var port = FreePort();
        var data = Path.Combine(clusterDirectory, "data");
        await RunAsPostgresAsync(asRoot, Path.Combine(pgBin, "initdb"),
            ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
        // fsync and synchronous commit are off: this cluster is thrown away after the run.
        await RunAsPostgresAsync(asRoot, Path.Combine(pgBin, "pg_ctl"),
            ["-D", data, "-l", Path.Combine(clusterDirectory, "server.log"), "-w", "-o",
             $"-c listen_addresses=127.0.0.1 -p {port} -k {clusterDirectory} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
             "start"]);
        return $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres";
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (clusterDirectory is null || pgBin is null)
        {
            return;
        }
        await RunAsPostgresAsync(Environment.UserName == "root", Path.Combine(pgBin, "pg_ctl"),
            ["-D", Path.Combine(clusterDirectory, "data"), "-m", "immediate", "-w", "stop"]);
        Directory.Delete(clusterDirectory, recursive: true);
    }

    private static Task RunAsPostgresAsync(bool asRoot, string program, string[] arguments) =>
        asRoot ? RunAsync("runuser", ["-u", "postgres", "--", program, .. arguments]) : RunAsync(program, arguments);

    private static async Task RunAsync(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await error}{await output}");
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
