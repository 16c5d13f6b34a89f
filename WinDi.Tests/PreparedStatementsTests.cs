using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace WinDi.Tests;

/// <summary>The API's repeated statements are prepared on their connection, unless the connection string turns that off.</summary>
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
