#:project ../WinDi.Api/WinDi.Api.csproj
#:property PublishAot=false

// WinDi's own benchmark (issue #11): one command that starts the stack it needs (a throwaway PostgreSQL with
// fsync off, Redis, the migration worker and two API replicas built in Release), runs each workload, runs
// pgbench against the same database in the same run, and prints one table: the figure, its ratio to a ceiling
// measured in the same run, server CPU per 1,000 messages, and lost and duplicated deliveries (must be 0).
//   dotnet run benchmarks/WinDiBench.cs                      every workload at the issue's sizes
//   dotnet run benchmarks/WinDiBench.cs -- --quick           small sizes: checks the harness in a minute
//   dotnet run benchmarks/WinDiBench.cs -- --only throughput,fanout   (throughput, fixed, fanout, idle, history)
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

var arguments = args.ToList();
string? Option(string name) => arguments.IndexOf(name) is var i and >= 0 && i + 1 < arguments.Count ? arguments[i + 1] : null;
var quick = arguments.Contains("--quick");
var only = Option("--only")?.Split(',').ToHashSet() ?? ["throughput", "fixed", "fanout", "idle", "history", "ceiling"];
var seconds = int.Parse(Option("--seconds") ?? (quick ? "5" : "20"), CultureInfo.InvariantCulture);

await using var stack = await Stack.StartAsync();
var results = new Results();
var pgbenchTps = await stack.PgbenchInsertTpsAsync(clients: 8, seconds: quick ? 5 : 10);
Console.WriteLine($"ceiling: pgbench single-row INSERT, 8 clients: {pgbenchTps:N0} tps");
// Unmeasured: the APIs' first seconds are JIT and tiering (a tenth of their CPU 5 s in, in a profile), which would land on whichever workload runs first.
await Workloads.ThroughputAsync(stack, users: 40, groupSize: 10, inFlight: 4, TimeSpan.FromSeconds(quick ? 2 : 15));

if (only.Contains("throughput"))
{
    var run = await Workloads.ThroughputAsync(stack, users: quick ? 40 : 200, groupSize: 10, inFlight: 4, TimeSpan.FromSeconds(seconds));
    results.Add(new("accepted messages/s", "200 users, 20 groups of 10, 4 in flight each", $"{run.PerSecond:N0}/s", $"{run.PerSecond / pgbenchTps:F2}× pgbench", run));
    results.Add(new("send → delivery p99 at that load", "same", $"{run.P99:F1} ms (p50 {run.P50:F1})", "", run));
}
if (only.Contains("fixed"))
{
    var run = await Workloads.FixedRateAsync(stack, users: quick ? 40 : 200, groupSize: 10, perSecond: 1000, TimeSpan.FromSeconds(quick ? 5 : 10));
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
    var cpu = row.Run is { Accepted: > 0 } r ? $"{r.ApiCpuMs * 1000 / r.Accepted:F0} ms" : "";
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
    public override string ToString() => $"{Figure}: {Result} {Ratio}" + (Run is { } r ? $" (accepted {r.Accepted}, lost {r.Lost}, duplicated {r.Duplicated})" : "");
}

internal sealed record RunResult(long Accepted, double PerSecond, double P50, double P99, long Lost, long Duplicated, double ApiCpuMs, long Delivered, double DeliveriesPerSecond);

/// <summary>The workloads of issue #11; each makes its own users and chats.</summary>
internal static class Workloads
{
    public static async Task<RunResult> ThroughputAsync(Stack stack, int users, int groupSize, int inFlight, TimeSpan duration)
    {
        var (clients, _) = await ConnectGroupsAsync(stack, users, groupSize);
        var cpu = stack.ApiCpuMs();
        var started = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(duration);
        await Task.WhenAll(clients.Select(c => c.SendWhileAsync(inFlight, stop.Token)));
        var elapsed = started.Elapsed;
        return await FinishAsync(stack, clients, cpu, elapsed);
    }

    public static async Task<RunResult> FixedRateAsync(Stack stack, int users, int groupSize, int perSecond, TimeSpan duration)
    {
        var (clients, _) = await ConnectGroupsAsync(stack, users, groupSize);
        var cpu = stack.ApiCpuMs();
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
        var cpu = stack.ApiCpuMs();
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
        for (var page = 0; page < 20; page++)
        {
            // Unmeasured: the first requests compile the endpoint's query.
            using var warmUp = await http.GetAsync($"/history/{chatId}?before_id={newest - page}&limit=50");
        }
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
    private static async Task<RunResult> FinishAsync(Stack stack, List<BenchClient> clients, double cpuBefore, TimeSpan sending)
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
        var cpu = stack.ApiCpuMs() - cpuBefore;
        var latencies = clients.SelectMany(c => c.Latencies).ToList();
        var accepted = clients.Sum(c => c.Accepted);
        var result = new RunResult(accepted, accepted / sending.TotalSeconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99),
            Math.Max(0, Expected() - Delivered()), clients.Sum(c => c.Duplicates), cpu, Delivered(), Delivered() / sending.TotalSeconds);
        foreach (var client in clients)
        {
            client.Dispose();
        }
        return result;
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
    public List<double> Latencies { get; } = [];

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
            Latencies.Add(Stopwatch.GetElapsedTime(sentAt, now).TotalMilliseconds);
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
    private string directory = "";
    private string pgBin = "";
    private int pgPort;
    private bool asRoot;

    public string ConnectionString { get; private set; } = "";
    public List<Replica> Replicas { get; } = [];

    public static async Task<Stack> StartAsync()
    {
        var stack = new Stack();
        try
        {
            await stack.StartServersAsync();
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
        return stack;
    }

    private async Task StartServersAsync()
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
        processes.Add(Start("redis-server", ["--port", $"{redisPort}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"], new Dictionary<string, string>()));

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
                new Dictionary<string, string>(environment) { ["ASPNETCORE_URLS"] = url.ToString() },
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

    /// <summary>CPU time (user + system) both API processes have used so far.</summary>
    public double ApiCpuMs() => Replicas.Sum(r => CpuMs(r.Process.Id));

    public static long ResidentKiB(Replica replica) => long.Parse(File.ReadAllLines($"/proc/{replica.Process.Id}/status")
        .First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private static double CpuMs(int pid)
    {
        // Fields 14 and 15 of /proc/PID/stat (utime, stime) in clock ticks, after the parenthesized command name.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 1000.0 / 100;
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
