using Npgsql;

namespace WinDi.Api.Messages;

/// <summary>
/// The rule that makes catching up complete: message ids become visible (commit) in the order they are assigned.
/// PostgreSQL assigns ids from a sequence at insert time, and two transactions may commit in the other order; a
/// client that had synced up to the later id would then never ask for the earlier one, so SYNC's
/// <c>id &gt; after_id</c> would skip it for ever. So every transaction that assigns message ids takes this
/// advisory lock first and holds it to its commit (a transaction-scoped lock): ids are assigned and committed
/// one transaction at a time. The writer's group commit keeps that to one lock per batch, not per message;
/// the seeding of the migration worker takes it too.
/// <c>SyncNeverSkipsAMessageWhileManyAreBeingSentAtOnce</c> and the tests that hold the lock from another session
/// (<c>PostgresServer.HoldMessageOrderLockAsync</c>) fail when it is not taken.
/// </summary>
public static class VisibleOrder
{
    /// <summary>The lock's key: "WinDi" in ASCII.</summary>
    public const long LockKey = 0x57_69_6E_44_69;

    public const string TakeLockSql = "SELECT pg_advisory_xact_lock($1)";

    /// <summary>The batch's first statement, so that the lock is held from id assignment to commit.</summary>
    public static NpgsqlBatchCommand TakeLock() => new(TakeLockSql) { Parameters = { new() { Value = LockKey } } };
}
