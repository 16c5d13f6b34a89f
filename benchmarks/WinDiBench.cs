#:project ../WinDi.Api/WinDi.Api.csproj
#:property PublishAot=false

// WinDi's own benchmark (issue #11): one command that starts the stack it needs (a throwaway PostgreSQL with
// fsync off, Redis, the migration worker and two API replicas built in Release), runs each workload, runs
// pgbench against the same database in the same run, and prints one table: the figure, its ratio to a ceiling
// measured in the same run, server CPU per 1,000 messages, and lost and duplicated deliveries (must be 0).
//   dotnet run benchmarks/WinDiBench.cs                      every workload at the issue's sizes
//   dotnet run benchmarks/WinDiBench.cs -- --quick           small sizes: checks the harness in a minute
//   dotnet run benchmarks/WinDiBench.cs -- --only throughput,fanout   (throughput, fixed, fanout, idle, history, growth, ceiling)
//   dotnet run benchmarks/WinDiBench.cs -- --api-env KEY=VALUE   an environment variable for both API replicas (repeatable),
//                                                               to compare a runtime or Kestrel setting in one command
// Run it from the repository root. Users, chats and history are written straight into the database; tokens are
// minted with the run's own JWT secret, as the API mints them.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

// The load generator's own thread pool starts wide: grown from 2 threads by hill climbing, it lagged for the first
// seconds after 200 new sockets opened, and that lag showed as server latency. In a fixed-rate run alone (--only fixed)
// the p99 of its first 2-4 s was 150-540 ms, and about 10 ms after; with this, 44 ms. The API's own pool is left as it is.
ThreadPool.SetMinThreads(32, 32);
var arguments = args.ToList();
string? Option(string name) => arguments.IndexOf(name) is var i and >= 0 && i + 1 < arguments.Count ? arguments[i + 1] : null;
var quick = arguments.Contains("--quick");
var only = Option("--only")?.Split(',').ToHashSet() ?? ["throughput", "fixed", "fanout", "idle", "history", "growth", "ceiling"];
var seconds = int.Parse(Option("--seconds") ?? (quick ? "5" : "20"), CultureInfo.InvariantCulture);
// --seconds sets the fixed-rate workload's length too (for a profile taken while it runs); by default it runs 10 s.
var fixedSeconds = Option("--seconds") is null ? (quick ? 5 : 10) : seconds;

var apiEnvironment = new Dictionary<string, string>();
for (var i = arguments.IndexOf("--api-env"); i >= 0; i = arguments.IndexOf("--api-env", i + 1))
{
    if (i + 1 >= arguments.Count || arguments[i + 1].Split('=', 2) is not [{ Length: > 0 } key, var value])
    {
        throw new ArgumentException("--api-env takes KEY=VALUE, e.g. --api-env DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0");
    }
    apiEnvironment[key] = value; // the last one given wins
}
await using var stack = await Stack.StartAsync(apiEnvironment);
var results = new Results();
var pgbenchTps = await stack.PgbenchInsertTpsAsync(clients: 8, seconds: quick ? 5 : 10);
Console.WriteLine($"ceiling: pgbench single-row INSERT, 8 clients: {pgbenchTps:N0} tps");
// Unmeasured: the APIs' first seconds are JIT and tiering (a tenth of their CPU 5 s in, in a profile), which would land on whichever workload runs first.
// With the workloads' own 200 users: after a warm-up with 40, connecting 200 still kept the tiered-compilation thread busy for 2 s
// (per-thread CPU from /proc/PID/task), and the fixed-rate run's first seconds measured the JIT.
await Workloads.ThroughputAsync(stack, users: quick ? 40 : 200, groupSize: 10, inFlight: 4, TimeSpan.FromSeconds(quick ? 2 : 15));

if (only.Contains("throughput"))
{
    var run = await Workloads.ThroughputAsync(stack, users: quick ? 40 : 200, groupSize: 10, inFlight: 4, TimeSpan.FromSeconds(seconds));
    results.Add(new("accepted messages/s", "200 users, 20 groups of 10, 4 in flight each", $"{run.PerSecond:N0}/s", $"{run.PerSecond / pgbenchTps:F2}× pgbench", run));
    results.Add(new("send → delivery p99 at that load", "same", $"{run.P99:F1} ms (p50 {run.P50:F1})", "", run));
}
if (only.Contains("fixed"))
{
    var run = await Workloads.FixedRateAsync(stack, users: quick ? 40 : 200, groupSize: 10, perSecond: 1000, TimeSpan.FromSeconds(fixedSeconds));
    results.Add(new("send → delivery p99 at 1,000 msgs/s", "same users and groups", $"{run.P99:F1} ms (p50 {run.P50:F1})", "", run));
}
if (only.Contains("fanout"))
{
    var run = await Workloads.FanOutAsync(stack, members: quick ? 200 : 1000, inFlight: 8, messages: quick ? 50 : 200);
    results.Add(new("group fan-out deliveries/s", $"one group of {(quick ? 200 : 1000)}, one sender, 8 in flight", $"{run.DeliveriesPerSecond:N0}/s, p99 {run.P99:F0} ms", "", run));
}
if (only.Contains("idle"))
{
    var connections = quick ? 1000 : 10_000;
    var kib = await Workloads.IdleMemoryAsync(stack, connections);
    results.Add(new("idle WebSocket memory", $"{connections:N0} idle connections on one replica", $"{kib:F1} KiB/connection", "", null));
}
if (only.Contains("history"))
{
    var (p99, p50, ceilingP99) = await Workloads.HistoryDepthAsync(stack, messages: quick ? 10_000 : 100_000, pages: 200);
    results.Add(new("history keyset page at depth", "a chat of 100,000, 200 before_id pages of 50", $"p99 {p99:F1} ms (p50 {p50:F1})", $"{p99 / ceilingP99:F1}× the same query by Npgsql", null));
}
if (only.Contains("growth"))
{
    // Issue #11 item 4: 10 million messages in 200,000 chats, one person in 1,000 of them (one of which holds a tenth of
    // all messages); --quick: 200,000 messages in 20,000 chats.
    var size = quick ? new GrowthSize(Messages: 200_000, Chats: 20_000, MyChats: 1_000, BigChatShare: 10)
        : new GrowthSize(Messages: 10_000_000, Chats: 200_000, MyChats: 1_000, BigChatShare: 10);
    var growth = await Growth.RunAsync(stack, size, requests: quick ? 30 : 100);
    var workload = $"{size.Messages:N0} msgs, a person in {size.MyChats:N0} chats";
    foreach (var figure in growth)
    {
        results.Add(new(figure.Name, workload, $"p99 {figure.P99:F1} ms (p50 {figure.P50:F1})",
            $"{figure.P50 / figure.DirectP50:F1}× its SQL by Npgsql (p50)", null));
    }
}
if (only.Contains("ceiling"))
{
    // Last: it restarts PostgreSQL with fsync on for its second half.
    foreach (var row in await Workloads.OrderingLockCeilingAsync(stack, TimeSpan.FromSeconds(quick ? 2 : 5)))
    {
        results.Add(row);
    }
}

Console.WriteLine();
Console.WriteLine($"WinDi benchmark, {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end");
Console.WriteLine($"| {"figure",-36} | {"workload",-46} | {"result",-28} | {"ratio",-26} | {"API CPU / 1,000 msgs",20} | {"lost",5} | {"dup",5} |");
Console.WriteLine($"| {new string('-', 36)} | {new string('-', 46)} | {new string('-', 28)} | {new string('-', 26)} | {new string('-', 20)} | {new string('-', 5)} | {new string('-', 5)} |");
foreach (var row in results)
{
    var cpu = row.Run is { Accepted: > 0 } r ? $"{r.Cpu.Api * 1000 / r.Accepted:F0} ms" : "";
    Console.WriteLine($"| {row.Figure,-36} | {row.Workload,-46} | {row.Result,-28} | {row.Ratio,-26} | {cpu,20} | {row.Run?.Lost.ToString(CultureInfo.InvariantCulture) ?? "",5} | {row.Run?.Duplicated.ToString(CultureInfo.InvariantCulture) ?? "",5} |");
}
var broken = results.Where(r => r.Run is { Lost: > 0 } or { Duplicated: > 0 }).ToList();
if (broken.Count > 0)
{
    Console.WriteLine($"LOST OR DUPLICATED DELIVERIES in: {string.Join(", ", broken.Select(b => b.Figure))}");
    Environment.ExitCode = 1;
}

internal sealed class Results : List<Row>
{
    public new void Add(Row row)
    {
        base.Add(row);
        Console.WriteLine(row);
    }
}

internal sealed record Row(string Figure, string Workload, string Result, string Ratio, RunResult? Run)
{
    public override string ToString() => $"{Figure}: {Result} {Ratio}" + (Run is { } r ? $" (accepted {r.Accepted}, lost {r.Lost}, duplicated {r.Duplicated}; {r.Cpu.PerThousand(r.Accepted)})" : "");
}

internal sealed record RunResult(long Accepted, double PerSecond, double P50, double P99, long Lost, long Duplicated, CpuSplit Cpu, long Delivered, double DeliveriesPerSecond);

/// <summary>CPU time (user + system, ms) of the API replicas, PostgreSQL (the postmaster and its backends), Redis and the load generator (this process).</summary>
internal readonly record struct CpuSplit(double Api, double Postgres, double Redis, double LoadGenerator)
{
    /// <summary>The servers' share: everything but the load generator.</summary>
    public double Servers => Api + Postgres + Redis;

    public static CpuSplit operator -(CpuSplit a, CpuSplit b) => new(a.Api - b.Api, a.Postgres - b.Postgres, a.Redis - b.Redis, a.LoadGenerator - b.LoadGenerator);

    public string PerThousand(long messages) => messages == 0 ? "" :
        $"CPU per 1,000 msgs: API {Api * 1000 / messages:F0} ms, PostgreSQL {Postgres * 1000 / messages:F0} ms, Redis {Redis * 1000 / messages:F0} ms, load generator {LoadGenerator * 1000 / messages:F0} ms";
}

/// <summary>The workloads of issue #11; each makes its own users and chats.</summary>
internal static class Workloads
{
    public static async Task<RunResult> ThroughputAsync(Stack stack, int users, int groupSize, int inFlight, TimeSpan duration)
    {
        var (clients, _) = await ConnectGroupsAsync(stack, users, groupSize);
        await stack.SettleAsync("sending");
        var cpu = stack.Cpu();
        var started = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(duration);
        await Task.WhenAll(clients.Select(c => c.SendWhileAsync(inFlight, stop.Token)));
        var elapsed = started.Elapsed;
        return await FinishAsync(stack, clients, cpu, elapsed);
    }

    public static async Task<RunResult> FixedRateAsync(Stack stack, int users, int groupSize, int perSecond, TimeSpan duration)
    {
        var (clients, _) = await ConnectGroupsAsync(stack, users, groupSize);
        await stack.SettleAsync("sending");
        var cpu = stack.Cpu();
        var started = Stopwatch.StartNew();
        var total = (int)(perSecond * duration.TotalSeconds);
        for (var n = 0; n < total; n++)
        {
            // Paced by the clock, not by answers: a slow server shows as latency, not as a lower rate.
            var due = TimeSpan.FromSeconds((double)n / perSecond);
            if (due > started.Elapsed)
            {
                await Task.Delay(due - started.Elapsed);
            }
            _ = clients[n % clients.Count].SendOneAsync();
        }
        var elapsed = started.Elapsed;
        return await FinishAsync(stack, clients, cpu, elapsed);
    }

    public static async Task<RunResult> FanOutAsync(Stack stack, int members, int inFlight, int messages)
    {
        var (clients, _) = await ConnectGroupsAsync(stack, members, members);
        await stack.SettleAsync("sending");
        var cpu = stack.Cpu();
        var started = Stopwatch.StartNew();
        var startedAt = Stopwatch.GetTimestamp();
        await clients[0].SendCountAsync(messages, inFlight);
        var result = await FinishAsync(stack, clients, cpu, started.Elapsed);
        // From the first send to the last delivery: a fan-out is done when its last member has the message.
        var lastDelivery = clients.Max(c => c.LastDeliveryAt);
        return result with { DeliveriesPerSecond = result.Delivered / Stopwatch.GetElapsedTime(startedAt, lastDelivery).TotalSeconds };
    }

    public static async Task<double> IdleMemoryAsync(Stack stack, int connections)
    {
        var people = await stack.CreateUsersAsync(connections);
        var before = Stack.ResidentKiB(stack.Replicas[0]);
        var sockets = new List<ClientWebSocket>(connections);
        foreach (var chunk in people.Chunk(200))
        {
            sockets.AddRange(await Task.WhenAll(chunk.Select(async p =>
            {
                var socket = new ClientWebSocket();
                socket.Options.KeepAliveInterval = TimeSpan.Zero;
                await socket.ConnectAsync(stack.Replicas[0].WebSocketUri(p.Token), CancellationToken.None);
                return socket;
            })));
        }
        await Task.Delay(TimeSpan.FromSeconds(5)); // let the server settle (GC, thread pool)
        var after = Stack.ResidentKiB(stack.Replicas[0]);
        foreach (var socket in sockets)
        {
            socket.Abort();
            socket.Dispose();
        }
        return (after - before) / (double)connections;
    }

    /// <summary>
    /// What the ordering lock allows (README "The ceiling of the design"): every replica's writer takes the one advisory
    /// lock for a batch, from its inserts to its commit, so the batches of all replicas run one at a time. This runs that
    /// shape with pgbench (lock, one multi-row insert into messages, commit) for 1, 2 and 4 writers (replicas) and
    /// batches of 1 and 32 messages, with fsync off and then on (synchronous_commit and full_page_writes too).
    /// </summary>
    public static async Task<List<Row>> OrderingLockCeilingAsync(Stack stack, TimeSpan each)
    {
        var person = (await stack.CreateUsersAsync(1))[0];
        var chatId = await stack.CreateGroupAsync([person.Id]);
        var rows = new List<Row>();
        foreach (var fsync in new[] { false, true })
        {
            if (fsync)
            {
                await stack.RestartPostgresAsync(fsync: true);
            }
            foreach (var batch in new[] { 1, 32 })
            {
                // One round trip per batch, as the writer's Npgsql batch is: a pgbench pipeline.
                var script = "\\startpipeline\nBEGIN;\n" +
                    $"SELECT pg_advisory_xact_lock({0x57_69_6E_44_69L});\n" +
                    "INSERT INTO messages (chat_id, sender_id, text, client_message_id, created_at) " +
                    $"SELECT {chatId}, {person.Id}, 'a message of the ceiling run, about fifty bytes', gen_random_uuid()::text, now() FROM generate_series(1, {batch});\n" +
                    "COMMIT;\n\\endpipeline\n";
                var perWriters = new List<string>();
                foreach (var writers in new[] { 1, 2, 4 })
                {
                    var batches = await stack.PgbenchAsync(script, writers, (int)each.TotalSeconds, "extended");
                    perWriters.Add($"{writers}: {batches:N0}/s");
                }
                rows.Add(new($"lock batches/s, fsync {(fsync ? "on" : "off")}", $"batches of {batch}, by 1, 2, 4 writers", string.Join(", ", perWriters), $"× {batch} msgs/batch", null));
            }
        }
        return rows;
    }

    public static async Task<(double P99, double P50, double CeilingP99)> HistoryDepthAsync(Stack stack, int messages, int pages)
    {
        var person = (await stack.CreateUsersAsync(1))[0];
        var chatId = await stack.CreateGroupAsync([person.Id]);
        await stack.ExecuteAsync(
            "INSERT INTO messages (chat_id, sender_id, text, client_message_id, created_at) " +
            "SELECT $1, $2, 'history message ' || g, 'h-' || g, now() FROM generate_series(1, $3) g", chatId, person.Id, messages);
        await stack.ExecuteAsync("ANALYZE messages");
        using var http = new HttpClient { BaseAddress = stack.Replicas[0].Url };
        http.DefaultRequestHeaders.Authorization = new("Bearer", person.Token);
        var newest = await stack.ScalarAsync<long>("SELECT max(id) FROM messages WHERE chat_id = $1", chatId);
        // Walk down from deep in the chat, as someone scrolling far back does.
        var oldest = newest - messages + 1;
        var before = Math.Max(oldest + (pages * 50) + 1, newest - (messages / 2));
        var api = new List<double>();
        var raw = new List<double>();
        await using var connection = await stack.OpenAsync();
        // Unmeasured: the JIT's tiers. A method is recompiled optimized only after 30 calls, counted from when new methods
        // stop being compiled; after 20 pages the measured ones were still compiling the request path in both processes
        // (in a profile, half of the API's CPU was the JIT, and the load generator's tiered-compilation thread was busy).
        // After 500, and the settling below, the pages measure the path as it runs from then on.
        for (var page = 0; page < 500; page++)
        {
            using var warmUp = await http.GetAsync($"/history/{chatId}?before_id={newest - page}&limit=50");
        }
        await stack.SettleAsync("paging");
        for (var page = 0; page < pages; page++)
        {
            var timer = Stopwatch.StartNew();
            using var response = await http.GetAsync($"/history/{chatId}?before_id={before}&limit=50");
            var body = await response.Content.ReadAsByteArrayAsync();
            api.Add(timer.Elapsed.TotalMilliseconds);
            response.EnsureSuccessStatusCode();
            timer.Restart();
            await using (var command = new NpgsqlCommand(
                "SELECT id, chat_id, sender_id, text, client_message_id, created_at FROM messages WHERE chat_id = $1 AND id < $2 ORDER BY id DESC LIMIT 50", connection))
            {
                command.Parameters.Add(new() { Value = chatId });
                command.Parameters.Add(new() { Value = before });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                }
            }
            raw.Add(timer.Elapsed.TotalMilliseconds);
            before -= 50;
        }
        return (Percentile(api, 0.99), Percentile(api, 0.50), Percentile(raw, 0.99));
    }

    /// <summary>users people in groups of groupSize, each on one WebSocket, alternating between the replicas.</summary>
    private static async Task<(List<BenchClient> Clients, long[] Chats)> ConnectGroupsAsync(Stack stack, int users, int groupSize)
    {
        var people = await stack.CreateUsersAsync(users);
        var chats = new List<long>();
        var clients = new List<BenchClient>(users);
        foreach (var group in people.Chunk(groupSize))
        {
            var chatId = await stack.CreateGroupAsync(group.Select(p => p.Id).ToArray());
            chats.Add(chatId);
            foreach (var person in group)
            {
                clients.Add(new BenchClient(person, chatId, group.Length));
            }
        }
        for (var i = 0; i < clients.Count; i++)
        {
            await clients[i].ConnectAsync(stack.Replicas[i % stack.Replicas.Count]);
        }
        return (clients, chats.ToArray());
    }

    /// <summary>Waits for every delivery (or 15 s), then counts what was lost or came twice.</summary>
    private static async Task<RunResult> FinishAsync(Stack stack, List<BenchClient> clients, CpuSplit cpuBefore, TimeSpan sending)
    {
        long Expected() => clients.Sum(c => c.Accepted * c.GroupSize);
        long Delivered() => clients.Sum(c => c.UniqueDeliveries);
        long Unanswered() => clients.Sum(c => c.Sent - c.Accepted - c.Refused);
        // Until every send is answered and every delivery in, or nothing has moved for 10 s (then what is
        // missing is lost, not late).
        var still = Stopwatch.StartNew();
        var progress = (Delivered(), Unanswered());
        while ((Delivered() < Expected() || Unanswered() > 0) && still.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(50);
            if ((Delivered(), Unanswered()) != progress)
            {
                progress = (Delivered(), Unanswered());
                still.Restart();
            }
        }
        var cpu = stack.Cpu() - cpuBefore;
        var latencies = clients.SelectMany(c => c.Deliveries.Select(d => d.Ms)).ToList();
        PrintP99BySecond(clients);
        var accepted = clients.Sum(c => c.Accepted);
        var result = new RunResult(accepted, accepted / sending.TotalSeconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99),
            Math.Max(0, Expected() - Delivered()), clients.Sum(c => c.Duplicates), cpu, Delivered(), Delivered() / sending.TotalSeconds);
        foreach (var client in clients)
        {
            client.Dispose();
        }
        return result;
    }

    /// <summary>Whether the slow deliveries come in bursts (a pause somewhere) or spread over the run (a queue).</summary>
    private static void PrintP99BySecond(List<BenchClient> clients)
    {
        var deliveries = clients.SelectMany(c => c.Deliveries).ToList();
        if (deliveries.Count == 0)
        {
            return;
        }
        var first = deliveries.Min(d => d.SentAt);
        var bySecond = deliveries.GroupBy(d => (int)Stopwatch.GetElapsedTime(first, d.SentAt).TotalSeconds).OrderBy(g => g.Key)
            .Select(g => $"{Percentile(g.Select(d => d.Ms).ToList(), 0.99):F0}");
        Console.WriteLine($"  p99 (ms) of the deliveries sent in each second: {string.Join(" ", bySecond)}");
    }

    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        values.Sort();
        return values[Math.Min(values.Count - 1, (int)(p * values.Count))];
    }
}

internal sealed record GrowthSize(int Messages, int Chats, int MyChats, int BigChatShare);

/// <summary>One measured request: through the API, and the same statement run by Npgsql directly.</summary>
internal sealed record GrowthFigure(string Name, double P50, double P99, double DirectP50);

/// <summary>
/// Cost as the data grows (issue #11 item 4): a big database built straight into the tables, then GET /chats, history
/// pages deep in the big chat, and SYNC from old cursors (by id and by seq) for a person in many chats, timed through
/// the API and against the API's statement run by Npgsql; each statement's plan is printed with EXPLAIN (ANALYZE, BUFFERS).
/// </summary>
internal static class Growth
{
    public static async Task<List<GrowthFigure>> RunAsync(Stack stack, GrowthSize size, int requests)
    {
        var me = (await stack.CreateUsersAsync(1))[0];
        var built = Stopwatch.StartNew();
        var data = await BuildAsync(stack, me.Id, size);
        Console.WriteLine($"growth: {size.Messages:N0} messages in {size.Chats:N0} chats built in {built.Elapsed.TotalSeconds:F0} s " +
            $"(the person's chats hold {data.MyMessages:N0}; the big chat {data.BigChatMessages:N0})");
        await stack.SettleAsync("reading");
        await using var connection = await stack.OpenAsync();
        using var http = new HttpClient { BaseAddress = stack.Replicas[0].Url };
        http.DefaultRequestHeaders.Authorization = new("Bearer", me.Token);
        var figures = new List<GrowthFigure>();
        var random = new Random(11);

        // GET /chats: every chat with its last message and unread count.
        // The first few requests of each kind warm up (JIT, pools, caches) and are not counted.
        const int warmUp = 5;
        var api = new List<double>();
        for (var i = -warmUp; i < requests; i++)
        {
            var timer = Stopwatch.StartNew();
            using var response = await http.GetAsync("/chats");
            var body = await response.Content.ReadAsByteArrayAsync();
            if (i >= 0)
            {
                api.Add(timer.Elapsed.TotalMilliseconds);
            }
            response.EnsureSuccessStatusCode();
            if (i == 0 && JsonDocument.Parse(body).RootElement.GetArrayLength() != size.MyChats)
            {
                throw new InvalidOperationException("GET /chats did not return every chat of the person.");
            }
        }
        var direct = await DirectAsync(connection, Queries.Chats, requests, _ => [me.Id]);
        figures.Add(new("GET /chats", Workloads.Percentile(api, 0.50), Workloads.Percentile(api, 0.99), direct));

        // History: before_id pages of 50, walking down from the middle of the big chat.
        api.Clear();
        var before = (data.BigChatFirstId + data.BigChatLastId) / 2;
        var befores = new List<long>();
        for (var i = -warmUp; i < requests; i++)
        {
            var timer = Stopwatch.StartNew();
            using var response = await http.GetAsync($"/history/{data.BigChatId}?before_id={before}&limit=50");
            var body = await response.Content.ReadAsByteArrayAsync();
            if (i >= 0)
            {
                befores.Add(before);
                api.Add(timer.Elapsed.TotalMilliseconds);
            }
            response.EnsureSuccessStatusCode();
            before = JsonDocument.Parse(body).RootElement[0].GetProperty("id").GetInt64();
        }
        direct = await DirectAsync(connection, Queries.History, requests, i => [data.BigChatId, me.Id, befores[i], 50, 0]);
        figures.Add(new("history page deep in the big chat", Workloads.Percentile(api, 0.50), Workloads.Percentile(api, 0.99), direct));

        // SYNC from old cursors (anywhere in the first 90 % of the history), by id and by seq, 500 frames a page.
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(stack.Replicas[0].WebSocketUri(me.Token), CancellationToken.None);
        foreach (var (name, field, first, last, sql) in new[]
        {
            ("SYNC after_id from an old cursor", "after_id", data.FirstId, data.LastId, Queries.SyncById),
            ("SYNC after_seq from an old cursor", "after_seq", data.FirstSeq, data.LastSeq, Queries.SyncBySeq),
        })
        {
            var cursors = Enumerable.Range(0, requests).Select(_ => first + (long)(random.NextDouble() * 0.9 * (last - first))).ToList();
            for (var i = 0; i < warmUp; i++)
            {
                await SyncAsync(socket, field, cursors[i]);
            }
            api.Clear();
            var frames = 0L;
            foreach (var cursor in cursors)
            {
                var timer = Stopwatch.StartNew();
                frames += await SyncAsync(socket, field, cursor);
                api.Add(timer.Elapsed.TotalMilliseconds);
            }
            if (frames < requests * 500L)
            {
                throw new InvalidOperationException($"{name}: {frames} frames for {requests} pages of 500.");
            }
            direct = await DirectAsync(connection, sql, requests, i => [me.Id, cursors[i], 501]);
            figures.Add(new(name, Workloads.Percentile(api, 0.50), Workloads.Percentile(api, 0.99), direct));
        }
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);

        foreach (var (name, sql, parameters) in new (string, string, object[])[]
        {
            ("GET /chats", Queries.Chats, [me.Id]),
            ("history before_id page", Queries.History, [data.BigChatId, me.Id, (data.BigChatFirstId + data.BigChatLastId) / 2, 50, 0]),
            ("SYNC after_id", Queries.SyncById, [me.Id, data.FirstId + ((data.LastId - data.FirstId) / 10), 501]),
            ("SYNC after_seq", Queries.SyncBySeq, [me.Id, data.FirstSeq + ((data.LastSeq - data.FirstSeq) / 10), 501]),
        })
        {
            Console.WriteLine($"EXPLAIN (ANALYZE, BUFFERS) {name}:");
            Console.WriteLine(await ExplainAsync(connection, sql, parameters));
        }
        return figures;
    }

    /// <summary>What the database holds, as the measurements need it.</summary>
    private sealed record Dataset(long BigChatId, long BigChatFirstId, long BigChatLastId, long FirstId, long LastId, long FirstSeq, long LastSeq, long MyMessages, long BigChatMessages);

    /// <summary>
    /// Peers, chats, memberships and messages by generate_series, with the messages' secondary indexes and foreign keys
    /// dropped during the load and built again after (from their own definitions, so the schema stays the migrations'),
    /// then 1 % of messages edited and 1 % deleted (new seqs, as the writer does), read markers a few messages back from
    /// each chat's end (5,000 in the big chat), and VACUUM ANALYZE. The look-ups of a chat's newest messages are of
    /// messages not deleted, which the index of messages not deleted serves.
    /// </summary>
    private static async Task<Dataset> BuildAsync(Stack stack, long me, GrowthSize size)
    {
        await using var connection = await stack.OpenAsync();
        async Task<long> Scalar(string sql, params object[] parameters)
        {
            await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 1800 };
            foreach (var parameter in parameters)
            {
                command.Parameters.Add(new() { Value = parameter });
            }
            return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        }
        async Task<List<string>> Strings(string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            var list = new List<string>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                list.Add(reader.GetString(0));
            }
            return list;
        }
        async Task Step(string what, string sql, params object[] parameters)
        {
            var timer = Stopwatch.StartNew();
            await Scalar(sql, parameters);
            Console.WriteLine($"growth: {what}: {timer.Elapsed.TotalSeconds:F1} s");
        }

        await Scalar("ALTER SYSTEM SET max_wal_size = '8GB'");
        await Scalar("SELECT pg_reload_conf()");
        await Scalar("SET maintenance_work_mem = '512MB'");
        var (chats, mine) = (size.Chats, size.MyChats);
        // Peer i (0-based) is in chat i; me is in chats 0 … mine-1 (odd ones private with me, even ones groups); the
        // other chats have peer i and peer i+1.
        var peer0 = await Scalar("""
            WITH x AS (INSERT INTO users (name, email, normalized_email, password_hash, created_at)
                SELECT 'Growth ' || g, 'growth.' || g || '@example.com', 'GROWTH.' || g || '@EXAMPLE.COM', 'not a password hash', now()
                FROM generate_series(0, $1 - 1) g RETURNING id)
            SELECT min(id) FROM x
            """, chats);
        var chat0 = await Scalar("""
            WITH x AS (INSERT INTO chats (name, is_group, private_low_user_id, private_high_user_id, created_at)
                SELECT CASE WHEN g < $2 AND g % 2 = 1 THEN NULL ELSE 'growth ' || g END, NOT (g < $2 AND g % 2 = 1),
                       CASE WHEN g < $2 AND g % 2 = 1 THEN $3 END, CASE WHEN g < $2 AND g % 2 = 1 THEN $4 + g END, now() - interval '400 days'
                FROM generate_series(0, $1 - 1) g ORDER BY g RETURNING id)
            SELECT min(id) FROM x
            """, chats, mine, me, peer0);
        if (await Scalar("SELECT count(*) FROM chats WHERE id BETWEEN $1 AND $1 + $2 - 1", chat0, chats) != chats)
        {
            throw new InvalidOperationException("The growth chats' ids are not contiguous.");
        }
        await Scalar("""
            INSERT INTO chat_members (chat_id, user_id, last_read_message_id, joined_at)
            SELECT $1 + g, $4 + g, 0, now() - interval '400 days' FROM generate_series(0, $2 - 1) g
            UNION ALL SELECT $1 + g, $5, 0, now() - interval '400 days' FROM generate_series(0, $3 - 1) g
            UNION ALL SELECT $1 + g, $4 + (g + 1) % $2, 0, now() - interval '400 days' FROM generate_series($3, $2 - 1) g
            """, chat0, chats, mine, peer0, me);

        var indexes = await Strings("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'messages' AND indexname <> 'pk_messages'");
        var foreignKeys = await Strings("SELECT format('ALTER TABLE messages ADD CONSTRAINT %I %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint WHERE conrelid = 'messages'::regclass AND contype = 'f'");
        foreach (var name in await Strings("SELECT conname FROM pg_constraint WHERE conrelid = 'messages'::regclass AND contype = 'f'"))
        {
            await Scalar($"ALTER TABLE messages DROP CONSTRAINT {name}");
        }
        foreach (var name in await Strings("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'messages' AND indexname <> 'pk_messages'"))
        {
            await Scalar($"DROP INDEX {name}");
        }
        var firstId = await Scalar("SELECT coalesce(max(id), 0) + 1 FROM messages");
        var firstSeq = await Scalar("SELECT nextval('message_seq') + 1");
        // One message in BigChatShare goes to chat 0 (mine, private), the rest round robin over chats 1 … chats-1; in my
        // chats every third message is mine.
        await Step("messages", """
            INSERT INTO messages (chat_id, sender_id, text, client_message_id, created_at)
            SELECT $3 + c, CASE WHEN g % 3 = 0 AND c < $5 THEN $6 ELSE $4 + c END, 'growth message ' || g || ', about forty bytes long',
                   'growth-' || g, now() - ($1 - g) * interval '1 second'
            FROM generate_series(1, $1) g, LATERAL (SELECT CASE WHEN g % $7 = 0 THEN 0 ELSE 1 + g % ($2 - 1) END AS c) x
            """, size.Messages, chats, chat0, peer0, mine, me, size.BigChatShare);
        await Step("indexes and foreign keys", string.Join(";\n", indexes.Concat(foreignKeys)));
        await Step("edits", """
            UPDATE messages SET text = text || ' (edited)', edited_at = created_at + interval '1 minute', created_seq = seq, seq = nextval('message_seq')
            WHERE id >= $1 AND id % 100 = 7
            """, firstId);
        await Step("deletes", """
            UPDATE messages SET text = '', deleted_at = created_at + interval '2 minutes', created_seq = coalesce(created_seq, seq), seq = nextval('message_seq')
            WHERE id >= $1 AND id % 100 = 42
               OR id IN (SELECT (SELECT max(id) FROM messages m WHERE m.chat_id = $2 + c AND m.deleted_at IS NULL) FROM generate_series(7, $3 - 1, 7) c)
            """, firstId, chat0, mine);
        await Step("read markers", """
            UPDATE chat_members cm SET last_read_message_id = coalesce((SELECT id FROM messages m WHERE m.chat_id = cm.chat_id AND m.deleted_at IS NULL
                ORDER BY id DESC OFFSET CASE WHEN cm.chat_id = $1 THEN 5000 ELSE cm.chat_id % 40 END LIMIT 1), 0)
            WHERE user_id = $3 AND chat_id BETWEEN $1 AND $1 + $2 - 1
            """, chat0, mine, me);
        await Step("the peers' read markers", """
            UPDATE chat_members cm SET last_read_message_id = coalesce((SELECT max(id) FROM messages m WHERE m.chat_id = cm.chat_id AND m.deleted_at IS NULL), 0)
            WHERE user_id <> $3 AND chat_id BETWEEN $1 AND $1 + $2 - 1
            """, chat0, mine, me);
        await Step("VACUUM ANALYZE", "VACUUM ANALYZE");
        return new Dataset(chat0,
            await Scalar("SELECT min(id) FROM messages WHERE chat_id = $1", chat0), await Scalar("SELECT max(id) FROM messages WHERE chat_id = $1", chat0),
            firstId, await Scalar("SELECT max(id) FROM messages"), firstSeq, await Scalar("SELECT max(seq) FROM messages"),
            await Scalar("SELECT count(*) FROM messages WHERE chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $1)", me),
            await Scalar("SELECT count(*) FROM messages WHERE chat_id = $1", chat0));
    }

    /// <summary>One SYNC page from <paramref name="cursor"/>: the frames up to and including SYNC_DONE, counted.</summary>
    private static async Task<int> SyncAsync(ClientWebSocket socket, string field, long cursor)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes($$$"""{"command":"SYNC","payload":{"{{{field}}}":{{{cursor}}}}}"""), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[64 * 1024];
        var frames = 0;
        while (true)
        {
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                length += result.Count;
            }
            while (!result.EndOfMessage);
            var command = JsonDocument.Parse(buffer.AsMemory(0, length)).RootElement.GetProperty("command").GetString();
            if (command == "SYNC_DONE")
            {
                return frames;
            }
            if (command == "ERROR")
            {
                throw new InvalidOperationException($"SYNC answered {Encoding.UTF8.GetString(buffer, 0, length)}");
            }
            frames++;
        }
    }

    /// <summary>p50 of the statement run by Npgsql, every row read.</summary>
    private static async Task<double> DirectAsync(NpgsqlConnection connection, string sql, int requests, Func<int, object[]> parameters)
    {
        var times = new List<double>();
        for (var i = 0; i < requests; i++)
        {
            var timer = Stopwatch.StartNew();
            await using var command = Command(connection, sql, parameters(i));
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
            }
            times.Add(timer.Elapsed.TotalMilliseconds);
        }
        return Workloads.Percentile(times, 0.50);
    }

    private static async Task<string> ExplainAsync(NpgsqlConnection connection, string sql, object[] parameters)
    {
        await using var command = Command(connection, "EXPLAIN (ANALYZE, BUFFERS) " + sql, parameters);
        var plan = new StringBuilder();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            plan.AppendLine(reader.GetString(0));
        }
        return plan.ToString();
    }

    /// <summary>The statement with its parameters typed as the API binds them ($1, $2, … in order; ints as integer).</summary>
    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, object[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }
        return command;
    }

    /// <summary>The API's own statements for these requests, run with the same parameters.</summary>
    private static class Queries
    {
        public static string Chats => WinDi.Api.Chats.ChatQueries.ListSql;
        public static string History => WinDi.Api.Messages.HistoryApi.NewestFirstSql;
        public static string SyncById => WinDi.Api.Messages.MessageSync.ByIdSql;
        public static string SyncBySeq => WinDi.Api.Messages.MessageSync.BySeqSql;
    }
}

/// <summary>One person on one WebSocket: sends into one chat, records every delivery it receives.</summary>
internal sealed class BenchClient(Person person, long chatId, int groupSize) : IDisposable
{
    private readonly ClientWebSocket socket = new();
    private readonly HashSet<long> seen = [];
    private readonly Lock gate = new();
    private readonly SemaphoreSlim inFlight = new(0);
    private int sent;

    public int GroupSize => groupSize;
    public int Sent => Volatile.Read(ref sent);
    public long Refused;
    public long Accepted;
    public long UniqueDeliveries;
    public long Duplicates;
    public long LastDeliveryAt;
    /// <summary>Each first delivery: when its send left (a Stopwatch timestamp) and how long it took to arrive.</summary>
    public List<(long SentAt, double Ms)> Deliveries { get; } = [];

    public async Task ConnectAsync(Replica replica)
    {
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(replica.WebSocketUri(person.Token), CancellationToken.None);
        _ = ReceiveLoopAsync();
    }

    /// <summary>Keeps <paramref name="depth"/> sends in flight until <paramref name="stop"/>; each slot frees on the sender's own echo.</summary>
    public async Task SendWhileAsync(int depth, CancellationToken stop)
    {
        var outstanding = 0;
        while (!stop.IsCancellationRequested)
        {
            while (outstanding < depth)
            {
                await SendOneAsync();
                outstanding++;
            }
            try
            {
                await inFlight.WaitAsync(stop);
                outstanding--;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public async Task SendCountAsync(int count, int depth)
    {
        var outstanding = 0;
        for (var n = 0; n < count; n++)
        {
            if (outstanding == depth)
            {
                await inFlight.WaitAsync();
                outstanding--;
            }
            await SendOneAsync();
            outstanding++;
        }
        while (outstanding-- > 0)
        {
            await inFlight.WaitAsync(TimeSpan.FromSeconds(15));
        }
    }

    private readonly SemaphoreSlim sending = new(1);

    public async Task SendOneAsync()
    {
        var n = Interlocked.Increment(ref sent);
        // The send's clock reading travels in its client_message_id, so every recipient can time its delivery.
        var frame = Encoding.UTF8.GetBytes(
            $$$"""{"command":"SEND_MESSAGE","payload":{"chat_id":{{{chatId}}},"text":"benchmark message {{{n}}} from {{{person.Id}}}, about fifty bytes","client_message_id":"{{{person.Id}}}-{{{n}}}-{{{Stopwatch.GetTimestamp()}}}"}}""");
        await sending.WaitAsync();
        try
        {
            await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            sending.Release();
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                Handle(buffer.AsSpan(0, length));
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private void Handle(ReadOnlySpan<byte> frame)
    {
        var now = Stopwatch.GetTimestamp();
        var reader = new Utf8JsonReader(frame);
        string? command = null, clientMessageId = null;
        long id = 0, senderId = 0;
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
            {
                continue;
            }
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "command": command = reader.GetString(); break;
                case "id": id = reader.GetInt64(); break;
                case "sender_id": senderId = reader.GetInt64(); break;
                case "client_message_id": clientMessageId = reader.GetString(); break;
            }
        }
        if (command == "ERROR")
        {
            Console.Error.WriteLine($"ERROR frame: {Encoding.UTF8.GetString(frame)}");
            if (clientMessageId is not null && clientMessageId.StartsWith($"{person.Id}-", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref Refused);
                inFlight.Release();
            }
            return;
        }
        if (command != "NEW_MESSAGE" || clientMessageId is null)
        {
            return;
        }
        var sentAt = long.Parse(clientMessageId[(clientMessageId.LastIndexOf('-') + 1)..], CultureInfo.InvariantCulture);
        lock (gate)
        {
            if (!seen.Add(id))
            {
                Duplicates++;
                return;
            }
            UniqueDeliveries++;
            LastDeliveryAt = now;
            Deliveries.Add((sentAt, Stopwatch.GetElapsedTime(sentAt, now).TotalMilliseconds));
            if (senderId == person.Id)
            {
                Accepted++;
            }
        }
        if (senderId == person.Id)
        {
            inFlight.Release();
        }
    }

    public void Dispose()
    {
        socket.Abort();
        socket.Dispose();
    }
}

internal sealed record Person(long Id, string Token);

internal sealed record Replica(Uri Url, Process Process)
{
    public Uri WebSocketUri(string token) => new($"ws://{Url.Authority}/ws?access_token={token}");
}

/// <summary>PostgreSQL (fsync off), Redis, the migration worker and two API replicas, all on loopback, stopped at the end.</summary>
internal sealed class Stack : IAsyncDisposable
{
    private const string JwtSecret = "windi-benchmark-secret-0123456789-abcdefghijkl";
    private readonly List<Process> processes = [];
    private Process? redis;
    private string directory = "";
    private string pgBin = "";
    private int pgPort;
    private bool asRoot;

    public string ConnectionString { get; private set; } = "";
    public List<Replica> Replicas { get; } = [];

    public static async Task<Stack> StartAsync(IReadOnlyDictionary<string, string> apiEnvironment)
    {
        var stack = new Stack();
        try
        {
            await stack.StartServersAsync(apiEnvironment);
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
        return stack;
    }

    private async Task StartServersAsync(IReadOnlyDictionary<string, string> apiEnvironment)
    {
        pgBin = Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderDescending(StringComparer.Ordinal).First();
        directory = Directory.CreateTempSubdirectory("windi-bench-").FullName;
        asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            await RunAsync("chown", ["postgres:postgres", directory]);
        }
        pgPort = FreePort();
        var data = Path.Combine(directory, "data");
        await RunAsPostgresAsync(Path.Combine(pgBin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
        await RunAsPostgresAsync(Path.Combine(pgBin, "pg_ctl"), ["-D", data, "-l", Path.Combine(directory, "server.log"), "-w", "-o", PostgresOptions(fsync: false), "start"]);
        await RunAsync(Path.Combine(pgBin, "createdb"), ["-h", "127.0.0.1", "-p", $"{pgPort}", "-U", "postgres", "windi"]);
        ConnectionString = $"Host=127.0.0.1;Port={pgPort};Username=postgres;Database=windi;Maximum Pool Size=50";

        var redisPort = FreePort();
        redis = Start("redis-server", ["--port", $"{redisPort}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"], new Dictionary<string, string>());
        processes.Add(redis);

        Console.WriteLine("building WinDi.Api and WinDi.MigrationWorker (Release)…");
        await RunAsync("dotnet", ["build", "-c", "Release", "-v", "q", "WinDi.Api/WinDi.Api.csproj"]);
        await RunAsync("dotnet", ["build", "-c", "Release", "-v", "q", "WinDi.MigrationWorker/WinDi.MigrationWorker.csproj"]);
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__windi"] = ConnectionString,
            ["ConnectionStrings__redis"] = $"127.0.0.1:{redisPort}",
            ["Jwt__Secret"] = JwtSecret,
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["Seed__TestData"] = "false",
            ["Limits__SendPerSecond"] = "1000000",
            ["Limits__SendBurst"] = "1000000",
            ["Limits__ConnectionsPerUser"] = "10000",
            ["Limits__AuthRequestsPerMinutePerAddress"] = "1000000",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        using (var worker = Start("dotnet", ["WinDi.MigrationWorker/bin/Release/net10.0/WinDi.MigrationWorker.dll"], environment))
        {
            await worker.WaitForExitAsync();
            if (worker.ExitCode != 0)
            {
                throw new InvalidOperationException($"The migration worker exited with {worker.ExitCode}.");
            }
        }
        for (var i = 0; i < 2; i++)
        {
            var url = new Uri($"http://127.0.0.1:{FreePort()}");
            var api = Start("dotnet", [Path.GetFullPath("WinDi.Api/bin/Release/net10.0/WinDi.Api.dll")],
                new Dictionary<string, string>(environment.ExceptBy(apiEnvironment.Keys, kv => kv.Key).Concat(apiEnvironment)) { ["ASPNETCORE_URLS"] = url.ToString() },
                workingDirectory: "WinDi.Api");
            processes.Add(api);
            Replicas.Add(new Replica(url, api));
        }
        using var http = new HttpClient();
        foreach (var replica in Replicas)
        {
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    if ((await http.GetStringAsync(new Uri(replica.Url, "/health"))) == "Healthy")
                    {
                        break;
                    }
                }
                catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(60) && !replica.Process.HasExited)
                {
                }
                await Task.Delay(200);
            }
        }
        Console.WriteLine($"stack up: PostgreSQL 127.0.0.1:{pgPort} (fsync off), Redis 127.0.0.1:{redisPort}, API {string.Join(", ", Replicas.Select(r => r.Url))}");
    }

    public async Task<double> PgbenchInsertTpsAsync(int clients, int seconds)
    {
        await ExecuteAsync("CREATE TABLE IF NOT EXISTS pgbench_insert (id bigserial PRIMARY KEY, chat_id bigint NOT NULL, text text NOT NULL)");
        return await PgbenchAsync("INSERT INTO pgbench_insert (chat_id, text) VALUES (1, 'benchmark message of about fifty bytes of text');\n", clients, seconds);
    }

    /// <summary>Transactions per second of a pgbench script against the stack's database.</summary>
    public async Task<double> PgbenchAsync(string sql, int clients, int seconds, string protocol = "simple")
    {
        var script = Path.Combine(directory, $"pgbench-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(script, sql);
        var output = await RunAsync(Path.Combine(pgBin, "pgbench"),
            ["-n", "-M", protocol, "-c", $"{clients}", "-j", $"{Math.Min(clients, 2)}", "-T", $"{seconds}", "-f", script, "-h", "127.0.0.1", "-p", $"{pgPort}", "-U", "postgres", "windi"]);
        var line = output.Split('\n').First(l => l.StartsWith("tps = ", StringComparison.Ordinal));
        return double.Parse(line[6..].Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>Restarts PostgreSQL with fsync (and synchronous_commit, full_page_writes) on or off; the APIs' pools reconnect by themselves.</summary>
    public Task RestartPostgresAsync(bool fsync) =>
        RunAsPostgresAsync(Path.Combine(pgBin, "pg_ctl"), ["-D", Path.Combine(directory, "data"), "-l", Path.Combine(directory, "server.log"), "-w", "-m", "fast", "-o", PostgresOptions(fsync), "restart"]);

    private string PostgresOptions(bool fsync)
    {
        var durable = fsync ? "on" : "off";
        return $"-c listen_addresses=127.0.0.1 -p {pgPort} -k {directory} -c fsync={durable} -c synchronous_commit={durable} -c full_page_writes={durable} -c max_connections=300 -c shared_buffers=512MB";
    }

    private int userCount;

    public async Task<List<Person>> CreateUsersAsync(int count)
    {
        var first = Interlocked.Add(ref userCount, count) - count;
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "INSERT INTO users (name, email, normalized_email, password_hash, created_at) " +
            "SELECT 'Bench ' || g, 'bench.' || g || '@example.com', 'BENCH.' || g || '@EXAMPLE.COM', 'not a password hash', now() " +
            "FROM generate_series($1, $2) g RETURNING id", connection);
        command.Parameters.Add(new() { Value = first });
        command.Parameters.Add(new() { Value = first + count - 1 });
        var ids = new List<long>(count);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetInt64(0));
            }
        }
        var handler = new JsonWebTokenHandler();
        var key = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(JwtSecret)), SecurityAlgorithms.HmacSha256);
        return ids.Select(id => new Person(id, handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "windi",
            Audience = "windi",
            Expires = DateTime.UtcNow.AddHours(2),
            Subject = new ClaimsIdentity([new Claim("sub", id.ToString(CultureInfo.InvariantCulture))]),
            SigningCredentials = key,
        }))).ToList();
    }

    public async Task<long> CreateGroupAsync(long[] members)
    {
        var chatId = await ScalarAsync<long>("INSERT INTO chats (name, is_group, created_at) VALUES ('bench group', true, now()) RETURNING id");
        await ExecuteAsync("INSERT INTO chat_members (chat_id, user_id, last_read_message_id, joined_at) SELECT $1, u, 0, now() FROM unnest($2::bigint[]) u", chatId, members);
        return chatId;
    }

    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 600 };
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }
        await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Waits until the servers are idle: API, PostgreSQL and Redis together under a tenth of a core for half a second (at
    /// most 30 s). So what the previous steps left running (the JIT tiering up the connect path after new sockets opened,
    /// sockets closing) is not measured as the next workload's latency; it prints how long that took and what was busy.
    /// </summary>
    public async Task SettleAsync(string before)
    {
        const double IdleServersMs = 50; // of CPU in half a second
        var waited = Stopwatch.StartNew();
        CpuSplit? busiest = null;
        var idle = false;
        while (!idle && waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            var start = Cpu();
            await Task.Delay(500);
            var used = Cpu() - start;
            idle = used.Servers < IdleServersMs;
            if (!idle && used.Servers > (busiest?.Servers ?? 0))
            {
                busiest = used;
            }
        }
        Console.WriteLine($"  {(idle ? "settled" : "still busy")} before {before} after {waited.Elapsed.TotalSeconds:F1} s" + (busiest is { } b
            ? $" (busiest half second: API {b.Api:F0} ms, PostgreSQL {b.Postgres:F0} ms, Redis {b.Redis:F0} ms of CPU)" : ""));
    }

    /// <summary>CPU time used so far by both API processes, PostgreSQL, Redis and this process.</summary>
    public CpuSplit Cpu() => new(Replicas.Sum(r => CpuMs(r.Process.Id)), PostgresCpuMs(), CpuMs(redis!.Id),
        Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds);

    /// <summary>The postmaster, its ended children (reaped into its cutime and cstime) and its live ones (the backends).</summary>
    private double PostgresCpuMs()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(directory, "data", "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        var total = CpuMs(postmaster, withEndedChildren: true);
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(proc), out var pid) && pid != postmaster && ParentOf(pid) == postmaster)
            {
                total += CpuMs(pid);
            }
        }
        return total;
    }

    private static int? ParentOf(int pid)
    {
        try
        {
            return int.Parse(StatFields(pid)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null; // it ended meanwhile
        }
    }

    private static string[] StatFields(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    public static long ResidentKiB(Replica replica) => long.Parse(File.ReadAllLines($"/proc/{replica.Process.Id}/status")
        .First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private static double CpuMs(int pid, bool withEndedChildren = false)
    {
        // Fields 14 to 17 of /proc/PID/stat (utime, stime, cutime, cstime) in clock ticks, after the parenthesized command name.
        try
        {
            var fields = StatFields(pid);
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            if (withEndedChildren)
            {
                ticks += long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
            }
            return ticks * 1000.0 / 100;
        }
        catch (IOException)
        {
            return 0; // it ended meanwhile
        }
    }

    private static Process Start(string file, IEnumerable<string> arguments, IDictionary<string, string> environment, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        var process = Process.Start(info)!;
        var name = Path.GetFileName(file == "dotnet" ? arguments.First() : file);
        // The console formatter writes a "fail:" header, then the message on the next lines.
        var failing = false;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { Length: > 0 } line)
            {
                return;
            }
            failing = line.StartsWith("fail:", StringComparison.Ordinal) || (failing && line.StartsWith("      ", StringComparison.Ordinal));
            if (failing)
            {
                Console.Error.WriteLine($"[{name}] {line}");
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Console.Error.WriteLine($"[{name}] {line}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private Task<string> RunAsPostgresAsync(string file, string[] arguments) =>
        asRoot ? RunAsync("runuser", ["-u", "postgres", "--", file, .. arguments]) : RunAsync(file, arguments);

    private static async Task<string> RunAsync(string file, string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}");
        }
        return await output + await error;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        // The API replicas first, then Redis: a replica that loses Redis while it runs logs the outage.
        foreach (var process in Enumerable.Reverse(processes))
        {
            try
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            catch (InvalidOperationException)
            {
            }
        }
        if (pgPort != 0 && Directory.Exists(Path.Combine(directory, "data", "global")))
        {
            try
            {
                await RunAsPostgresAsync(Path.Combine(pgBin, "pg_ctl"), ["-D", Path.Combine(directory, "data"), "-m", "immediate", "-w", "stop"]);
            }
            catch (InvalidOperationException)
            {
            }
        }
        if (directory.Length > 0)
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
