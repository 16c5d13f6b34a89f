using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using WinDi.Api.Data;

namespace WinDi.MigrationWorker;

/// <summary>Applies the EF Core migrations and, when asked, the test data. Running it again changes nothing.</summary>
public sealed partial class DatabaseMigrator(IServiceScopeFactory scopes, TimeProvider clock, ILogger<DatabaseMigrator> logger)
{
    public async Task RunAsync(bool seed, TimeSpan databaseWait, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<WinDiDb>();

        await MigrateWhenReachableAsync(db, scope.ServiceProvider.GetRequiredService<NpgsqlDataSource>(), databaseWait, ct);
        if (seed)
        {
            var added = await SeedData.ApplyAsync(db, ct);
            Log.Seeded(logger, added);
        }
    }

    /// <summary>PostgreSQL may still be starting (a container, a fresh cluster): retry connection failures until the deadline.</summary>
    private async Task MigrateWhenReachableAsync(WinDiDb db, NpgsqlDataSource dataSource, TimeSpan databaseWait, CancellationToken ct)
    {
        var deadline = clock.GetUtcNow() + databaseWait;
        while (true)
        {
            try
            {
                var pending = db.Database.GetMigrations().Except(await PrepareHistoryAsync(db, dataSource, ct)).ToArray();
                await db.Database.MigrateAsync(ct);
                Log.Migrated(logger, pending);
                return;
            }
            catch (Exception e) when (IsUnreachable(e) && clock.GetUtcNow() < deadline)
            {
                Log.WaitingForDatabase(logger, e.GetBaseException());
                await Task.Delay(TimeSpan.FromSeconds(1), clock, ct);
            }
        }
    }

    /// <summary>
    /// Makes sure the database and its migrations history table exist, then returns the migrations applied so far.
    /// Without this a first start logs fail: lines for nothing: EF's GetPendingMigrations, and Npgsql's migrator
    /// before it migrates, read the history table and catch "relation (or database) does not exist", but EF has
    /// already logged the failed command at Error. A real command failure still logs, as it should.
    /// </summary>
    private static async Task<IEnumerable<string>> PrepareHistoryAsync(WinDiDb db, NpgsqlDataSource dataSource, CancellationToken ct)
    {
        try
        {
            // Outside EF's retrying strategy: an unreachable server fails at once, and the wait loop above retries.
            await using var connection = await dataSource.OpenConnectionAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            await db.GetService<IRelationalDatabaseCreator>().CreateAsync(ct);
        }
        await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(ct);
        return await db.Database.GetAppliedMigrationsAsync(ct);
    }

    private static bool IsUnreachable(Exception e) => e.GetBaseException() is NpgsqlException { IsTransient: true } or System.Net.Sockets.SocketException
        || e.GetBaseException() is PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow };

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Database schema is current; migrations applied now: {Migrations}")]
        public static partial void Migrated(ILogger logger, string[] migrations);

        [LoggerMessage(Level = LogLevel.Information, Message = "Test data is in place; {Added} row(s) added")]
        public static partial void Seeded(ILogger logger, int added);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Waiting for the database")]
        public static partial void WaitingForDatabase(ILogger logger, Exception reason);
    }
}
