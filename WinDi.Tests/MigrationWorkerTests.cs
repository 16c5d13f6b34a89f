using Microsoft.AspNetCore.Identity;
using WinDi.Api.Users;

namespace WinDi.Tests;

/// <summary>The migration worker as a real process, started the way DESIGN §2 starts it.</summary>
public sealed class MigrationWorkerTests(PostgresServer postgres)
{
    [Fact]
    public async Task TheWorkerMigratesAFreshDatabaseSeedsItAndExitsZero()
    {
        var database = await postgres.CreateDatabaseAsync("worker");

        var run = await RunWorkerAsync(database, seed: true);

        Assert.True(run.ExitCode == 0, run.Output);
        var seeded = await QueryAsync(database, "SELECT string_agg(id || ':' || name || ':' || email, ',' ORDER BY id) FROM users");
        Assert.Equal("1:Alice Wright:alice.wright87@example.com,2:Ben Stevens:ben.stevens55@example.com,3:Carla James:carla.james22@example.com", seeded);
        var hash = await QueryAsync(database, "SELECT password_hash FROM users WHERE id = 1");
        Assert.NotEqual(PasswordVerificationResult.Failed, new PasswordHasher<User>().VerifyHashedPassword(null!, hash, "Zx7!pTn9vR"));

        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["ConnectionStrings:windi"] = database });
        using var alice = app.Authorized(await app.LoginAsync("alice.wright87@example.com", "Zx7!pTn9vR"));
        var chats = (await alice.GetFromJsonAsync<JsonElement>("/chats")).EnumerateArray().ToList();
        Assert.Equal(["WinDi Team", "Carla James", "Ben Stevens"], chats.Select(c => c.GetProperty("name").GetString()));
        Assert.All(chats, c => Assert.NotEqual(JsonValueKind.Null, c.GetProperty("last_message").ValueKind));
        await app.LoginAsync("ben.stevens55@example.com", "uJ2#kLo8bW");
        await app.LoginAsync("carla.james22@example.com", "M@5pQx3eTu");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AFirstMigrationLogsNothingAtErrorLevelWhetherTheDatabaseIsEmptyOrMissing(bool databaseExists)
    {
        var database = databaseExists
            ? await postgres.CreateDatabaseAsync("worker")
            : new Npgsql.NpgsqlConnectionStringBuilder(postgres.AdminConnectionString) { Database = $"worker_missing_{Guid.NewGuid():N}" }.ConnectionString;

        // One JSON object per log record, so the level is read rather than guessed from a "fail:" prefix.
        var run = await RunWorkerAsync(database, seed: true, ("Logging__Console__FormatterName", "json"));

        Assert.True(run.ExitCode == 0, run.Output);
        var records = run.Output.Split('\n').Where(line => line.StartsWith('{')).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.Contains(records, r => r.GetProperty("Category").GetString() == "WinDi.MigrationWorker.DatabaseMigrator");
        var errors = records.Where(r => r.GetProperty("LogLevel").GetString() is "Error" or "Critical")
            .Select(r => $"{r.GetProperty("LogLevel")} {r.GetProperty("Category")}: {r.GetProperty("Message")}").ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    [Fact]
    public async Task ASecondRunChangesNothing()
    {
        var database = await postgres.CreateDatabaseAsync("worker");
        Assert.Equal(0, (await RunWorkerAsync(database, seed: true)).ExitCode);
        const string snapshot = """
            SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM chats) || '/' || (SELECT count(*) FROM chat_members)
                || '/' || (SELECT count(*) FROM messages) || '/' || (SELECT sum(last_read_message_id) FROM chat_members)
                || '/' || (SELECT count(*) FROM "__EFMigrationsHistory")
            """;
        var before = await QueryAsync(database, snapshot);

        var again = await RunWorkerAsync(database, seed: true);

        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Equal(before, await QueryAsync(database, snapshot));
        Assert.StartsWith("3/3/7/7/", before);
    }

    [Fact]
    public async Task WithoutSeedTheSchemaIsAppliedAndNoDataAdded()
    {
        var database = await postgres.CreateDatabaseAsync("worker");

        var run = await RunWorkerAsync(database, seed: false);

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal("0", await QueryAsync(database, "SELECT count(*)::text FROM users"));
    }

    [Fact]
    public async Task TheWorkerExitsNonZeroWhenTheDatabaseCannotBeReached()
    {
        var unreachable = $"Host=127.0.0.1;Port={PostgresServer.FreePort()};Username=postgres;Database=windi;Timeout=1";

        var run = await RunWorkerAsync(unreachable, seed: true, ("Migrations__DatabaseWaitSeconds", "2"));

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Migration failed", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheWorkerExitsNonZeroAndNamesTheKeyWhenTheConnectionStringIsMissing()
    {
        var run = await RunWorkerAsync(null, seed: true);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("ConnectionStrings__windi", run.Output, StringComparison.Ordinal);
    }

    private static Task<(int ExitCode, string Output)> RunWorkerAsync(string? connectionString, bool seed, params (string Key, string Value)[] extra)
    {
        var environment = new Dictionary<string, string?>
        {
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["Seed__TestData"] = seed ? "true" : "false",
            ["ConnectionStrings__windi"] = connectionString,
        };
        foreach (var (key, value) in extra)
        {
            environment[key] = value;
        }
        return ProgramRun.RunAsync("WinDi.MigrationWorker.dll", environment);
    }

    private static async Task<string> QueryAsync(string connectionString, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return Convert.ToString(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture)!;
    }
}
