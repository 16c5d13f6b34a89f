using Npgsql;

namespace WinDi.Api.Messages;

/// <summary>
/// The rule that makes catching up complete: message ids, and the seqs of changes (a new message, an edit, a delete),
/// become visible (commit) in the order they are assigned. PostgreSQL assigns ids and seqs from sequences at write
/// time, and two transactions may commit in the other order; a client that had synced up to the later one would then
/// never ask for the earlier one, so SYNC's <c>id &gt; after_id</c> or <c>seq &gt; after_seq</c> would skip it for
/// ever. So every transaction that assigns message ids or seqs takes this advisory lock first and holds it to its
/// commit (a transaction-scoped lock): ids and seqs are assigned and committed one transaction at a time. The writer's
/// group commit keeps that to one lock per batch of sends, edits and deletes, not per write; the seeding of the
/// migration worker takes it too, and so does the migration that gave existing messages their seq.
/// <c>SyncNeverSkipsAMessageWhileManyAreBeingSentAtOnce</c>, <c>SyncBySeqNeverSkipsAChangeWhileManyAreBeingSentAndEditedAtOnce</c>
/// and the tests that hold the lock from another session (<c>PostgresServer.HoldMessageOrderLockAsync</c>) fail when it
/// is not taken.
/// </summary>
public static class VisibleOrder
{
    /// <summary>The lock's key: "WinDi" in ASCII.</summary>
    public const long LockKey = 0x57_69_6E_44_69;

    public const string TakeLockSql = "SELECT pg_advisory_xact_lock($1)";

    /// <summary>The batch's first statement, so that the lock is held from id and seq assignment to commit.</summary>
    public static NpgsqlBatchCommand TakeLock() => new(TakeLockSql) { Parameters = { new() { Value = LockKey } } };
}
