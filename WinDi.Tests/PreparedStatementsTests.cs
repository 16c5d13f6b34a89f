using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace WinDi.Tests;

/// <summary>
/// The API's repeated statements are prepared on their connection and planned once, and a pooled connection is used again
/// without a reset, unless the connection string says otherwise.
/// </summary>
public sealed class PreparedStatementsTests(PostgresServer postgres)
{
    [Fact]
    public async Task AStatementTheApiRepeatsIsPreparedOnItsConnection()
    {
        await using var app = new WinDiApp(postgres);

        Assert.Equal(1, await PreparedAfterRepeatsAsync(app));
    }

    [Fact]
    public async Task MaxAutoPrepareZeroInTheConnectionStringTurnsPreparingOff()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?>
        {
            ["ConnectionStrings:windi"] = postgres.ConnectionString + ";Max Auto Prepare=0",
        });

        Assert.Equal(0, await PreparedAfterRepeatsAsync(app));
    }

    /// <summary>
    /// The writer's insert is planned once and reused: a lone send's batch (an array of one) looked cheaper to plan anew
    /// each time, which PostgreSQL's plan cache then did for every batch. With one connection in the pool, every batch runs
    /// on the connection this test reads the plan counts of.
    /// </summary>
    [Fact]
    public async Task TheWritersInsertIsPlannedOnceNotForEachLoneSend()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?>
        {
            ["ConnectionStrings:windi"] = postgres.ConnectionString + ";Maximum Pool Size=1",
        });
        var ann = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var chatId = await ann.StartPrivateChatAsync(bob);
        await using var annWs = await ann.ConnectAsync();
        for (var n = 0; n < 12; n++)
        {
            await annWs.SendAndEchoAsync(chatId, $"lone {n}", $"lone-{n}");
        }

        await using var connection = await app.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();
        await using var plans = new NpgsqlCommand(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%INSERT INTO messages%'", connection);
        await using var reader = await plans.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "The writer's insert was not prepared on the pool's connection.");
        var (generic, custom) = (reader.GetInt64(0), reader.GetInt64(1));
        Assert.False(await reader.ReadAsync());
        Assert.Equal(0, custom);
        Assert.True(generic >= 12 - 5, $"{generic} generic plans"); // Npgsql prepares a statement on its fifth use
    }

    [Fact]
    public async Task APooledConnectionIsUsedAgainWithoutAReset()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?>
        {
            ["ConnectionStrings:windi"] = postgres.ConnectionString + ";Maximum Pool Size=1",
        });

        Assert.Equal("123s", await SettingAfterReuseAsync(app));
    }

    [Fact]
    public async Task NoResetOnCloseFalseInTheConnectionStringKeepsTheReset()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?>
        {
            ["ConnectionStrings:windi"] = postgres.ConnectionString + ";Maximum Pool Size=1;No Reset On Close=false",
        });

        Assert.Equal("0", await SettingAfterReuseAsync(app));
    }

    /// <summary>
    /// Leaves a session setting on the pool's one connection, then reads it on its next use: a reset (RESET ALL) would have
    /// put it back to the default, 0.
    /// </summary>
    private static async Task<string> SettingAfterReuseAsync(WinDiApp app)
    {
        var dataSource = app.Services.GetRequiredService<NpgsqlDataSource>();
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await using var set = new NpgsqlCommand("SET statement_timeout = '123s'", connection);
            await set.ExecuteNonQueryAsync();
        }
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await using var show = new NpgsqlCommand("SHOW statement_timeout", connection);
            return (string)(await show.ExecuteScalarAsync())!;
        }
    }

    /// <summary>Runs one statement ten times on one of the API's connections, then counts what that connection has prepared.</summary>
    private static async Task<long> PreparedAfterRepeatsAsync(WinDiApp app)
    {
        await using var connection = await app.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();
        for (var i = 0; i < 10; i++)
        {
            await using var repeated = new NpgsqlCommand("SELECT count(*) FROM users WHERE id = $1", connection) { Parameters = { new() { Value = (long)i } } };
            await repeated.ExecuteScalarAsync();
        }
        await using var prepared = new NpgsqlCommand("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT count(*) FROM users WHERE id = $1%'", connection);
        return (long)(await prepared.ExecuteScalarAsync())!;
    }
}
