using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace WinDi.Api.Realtime;

/// <summary>How often a replica records <c>users.last_seen</c> of the users connected to it.</summary>
public sealed class LastSeenOptions
{
    public TimeSpan RecordEvery { get; set; } = TimeSpan.FromSeconds(20);
}

/// <summary>
/// Keeps <c>users.last_seen</c>: written when a user's WebSocket opens or closes, and every
/// <see cref="LastSeenOptions.RecordEvery"/> for every user connected to this replica, so that the users of a
/// replica that dies (and writes no disconnect) keep a last_seen at most that old. Writes are batched as the
/// message writer batches sends: whatever is recorded while one UPDATE is in the database goes in the next, so a
/// renewal round is one statement and a thousand disconnects at once are a few. PostgreSQL's clock decides, and
/// last_seen never moves back.
/// </summary>
public sealed partial class LastSeen(
    NpgsqlDataSource dataSource, ConnectionRegistry registry, IOptions<LastSeenOptions> options, ILogger<LastSeen> logger)
    : BackgroundService
{
    public const int MaxBatch = 5000;
    public static readonly TimeSpan WriteWait = TimeSpan.FromSeconds(2);

    // Rows locked in id order: two replicas recording overlapping users at once cannot deadlock.
    private const string RecordSql = """
        WITH seen AS (SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE)
        UPDATE users u SET last_seen = GREATEST(u.last_seen, now()) FROM seen WHERE u.id = seen.id
        """;

    // Each user waiting for the next write, with what completes once that write is done (or failed).
    private readonly ConcurrentDictionary<long, TaskCompletionSource> pending = new();
    private int writing;

    /// <summary>
    /// Records that the user is connected now (or was, until now). The task completes once the write is done or has
    /// failed (it never faults), so a disconnect can be recorded before anyone may see the user offline.
    /// </summary>
    public Task RecordAsync(long userId)
    {
        var written = pending.GetOrAdd(userId, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        StartWriting();
        return written;
    }

    /// <summary>
    /// Waits for a record to be written, at most <see cref="WriteWait"/>: a database that does not answer must neither
    /// hold up a connect nor keep a closed connection's slot.
    /// </summary>
    public static async Task WrittenAsync(Task record)
    {
        try
        {
            await record.WaitAsync(WriteWait);
        }
        catch (TimeoutException)
        {
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RecordEvery);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var userId in registry.Users)
            {
                _ = RecordAsync(userId);
            }
        }
    }

    private void StartWriting()
    {
        if (Interlocked.CompareExchange(ref writing, 1, 0) != 0)
        {
            return; // the running write loop takes it in its next batch
        }
        // Without the caller's execution context: the writes must not join the span of the connection that started them.
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(WriteLoopAsync);
        }
    }

    private async Task WriteLoopAsync()
    {
        do
        {
            while (!pending.IsEmpty)
            {
                var batch = new List<(long UserId, TaskCompletionSource Written)>(Math.Min(MaxBatch, 64));
                foreach (var userId in pending.Keys)
                {
                    if (pending.TryRemove(userId, out var written))
                    {
                        batch.Add((userId, written));
                    }
                    if (batch.Count == MaxBatch)
                    {
                        break;
                    }
                }
                await WriteAsync([.. batch.Select(entry => entry.UserId)]);
                foreach (var (_, written) in batch)
                {
                    written.TrySetResult();
                }
            }
            Volatile.Write(ref writing, 0);
            // A Record between the last look and the reset found the loop running: look again.
        }
        while (!pending.IsEmpty && Interlocked.CompareExchange(ref writing, 1, 0) == 0);
    }

    private async Task WriteAsync(long[] userIds)
    {
        try
        {
            await using var command = dataSource.CreateCommand(RecordSql);
            command.Parameters.Add(new NpgsqlParameter { Value = userIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            await command.ExecuteNonQueryAsync();
        }
        catch (Exception e)
        {
            // The database is down or the node is stopping: connected users are recorded again on the next round.
            Log.RecordFailed(logger, e, userIds.Length);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record last_seen of {Users} users; connected users are recorded again on the next round")]
        public static partial void RecordFailed(ILogger logger, Exception exception, int users);
    }
}
