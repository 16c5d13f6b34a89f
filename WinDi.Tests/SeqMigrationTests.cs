using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using WinDi.Api.Data;

namespace WinDi.Tests;

/// <summary>The migration that added seqs, run on a database that already holds messages.</summary>
public sealed class SeqMigrationTests(PostgresServer postgres)
{
    [Fact]
    public async Task ExistingMessagesGetTheirSeqInIdOrderAndNewChangesComeAfterThem()
    {
        var connectionString = await postgres.CreateDatabaseAsync("windi_seq_migration");
        await using var db = new WinDiDb(new DbContextOptionsBuilder<WinDiDb>().UseNpgsql(connectionString).UseSnakeCaseNamingConvention().Options);
        var migrator = db.GetService<IMigrator>();
        await migrator.MigrateAsync("20261124071613_InitialSchema");
        // Stored out of id order, as rows of a long-lived table can be.
        await db.Database.ExecuteSqlRawAsync("""
            INSERT INTO users (id, name, email, normalized_email, password_hash) VALUES (1, 'A', 'a@x', 'a@x', 'x'), (2, 'B', 'b@x', 'b@x', 'x');
            INSERT INTO chats (id, name, is_group) VALUES (1, 'g', true);
            INSERT INTO chat_members (chat_id, user_id, last_read_message_id) VALUES (1, 1, 0), (1, 2, 0);
            INSERT INTO messages (id, chat_id, sender_id, text, client_message_id) VALUES (50, 1, 1, 'b', 'k50'), (20, 1, 2, 'a', 'k20'), (90, 1, 1, 'c', 'k90');
            """);

        await migrator.MigrateAsync();

        var seqs = await db.Database.SqlQueryRaw<long>("SELECT seq AS \"Value\" FROM messages ORDER BY id").ToListAsync();
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(3, seqs.Distinct().Count());
        Assert.Equal(0, await db.Database.SqlQueryRaw<int>("SELECT count(*)::int AS \"Value\" FROM messages WHERE created_seq IS NOT NULL OR edited_at IS NOT NULL OR deleted_at IS NOT NULL").SingleAsync());
        var next = await db.Database.SqlQueryRaw<long>("INSERT INTO messages (chat_id, sender_id, text, client_message_id) VALUES (1, 2, 'd', 'new') RETURNING seq AS \"Value\"").ToListAsync();
        Assert.True(Assert.Single(next) > seqs.Max(), $"a new message got seq {next[0]}, after {seqs.Max()}");
    }
}
