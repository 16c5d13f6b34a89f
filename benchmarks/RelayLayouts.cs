#:package StackExchange.Redis
#:project ../WinDi.Api/WinDi.Api.csproj
#:property PublishAot=false

// Compares two Redis pub/sub layouts for WinDi's relay, on a real redis-server:
//   broadcast: one channel; each event is published once with its recipients, and every replica keeps
//              the recipients connected to it (WinDi's RelayEnvelope, as RedisRelay does);
//   per-user:  one channel per user; each event is published once per recipient, and every replica
//              subscribes to the channels of the users connected to it.
// Usage: dotnet run benchmarks/RelayLayouts.cs [-- --redis HOST:PORT] [--events N]
// Without --redis it starts redis-server on a free loopback port and stops it at the end.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;
using WinDi.Api.Realtime;

var arguments = args.ToList();
string? Option(string name) => arguments.IndexOf(name) is var i and >= 0 && i + 1 < arguments.Count ? arguments[i + 1] : null;
var events = int.Parse(Option("--events") ?? "20000", System.Globalization.CultureInfo.InvariantCulture);
const int Users = 2000;

Process? server = null;
var endpoint = Option("--redis");
if (endpoint is null)
{
    var port = FreePort();
    server = Process.Start(new ProcessStartInfo("redis-server", ["--port", $"{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
    {
        RedirectStandardOutput = true,
    })!;
    endpoint = $"127.0.0.1:{port}";
    await Task.Delay(300);
}

var frame = Encoding.UTF8.GetBytes("""{"command":"NEW_MESSAGE","id":123456,"chat_id":4242,"sender_id":17,"text":"A typical short chat message, about eighty characters long, give or take.","client_message_id":"6f1c2a9e5b7d4e0f8a3b1c2d3e4f5a6b","timestamp":1795500000,"is_read":false}""");
Console.WriteLine($"WinDi relay layouts: {events} events, {Users} users spread over the replicas, frame {frame.Length} B, Redis {endpoint}, {Environment.ProcessorCount} cores");
Console.WriteLine($"{"layout",-10} {"replicas",8} {"group",6} {"events/s",10} {"deliveries/s",13} {"redis CPU µs/event",19} {"app CPU µs/event",17}");

try
{
    foreach (var replicas in new[] { 2, 4, 8 })
    {
        foreach (var group in new[] { 2, 10, 50 })
        {
            foreach (var layout in new[] { "broadcast", "per-user" })
            {
                await RunAsync(layout, replicas, group);
            }
        }
    }
}
finally
{
    server?.Kill();
}

async Task RunAsync(string layout, int replicas, int group)
{
    var random = new Random(42);
    var recipients = Enumerable.Range(0, events).Select(_ => Enumerable.Range(0, group).Select(_ => (long)random.Next(Users)).Distinct().ToArray()).ToArray();
    // The publisher is replica 0; it delivers to its own users directly, so only the others count.
    var expected = recipients.Sum(r => r.Count(user => user % replicas != 0));
    var delivered = 0L;
    var done = new TaskCompletionSource();
    var channelName = $"bench:{Guid.NewGuid():N}";
    var nodes = new List<ConnectionMultiplexer>();
    for (var r = 0; r < replicas; r++)
    {
        nodes.Add(await ConnectionMultiplexer.ConnectAsync(endpoint + ",allowAdmin=true"));
    }
    var publisherNode = Guid.NewGuid();
    // Every envelope is authenticated, as between WinDi's replicas.
    var key = new RelayKey(new RelayOptions { Secret = "relay-layouts-benchmark" }, new WinDi.Api.Auth.JwtOptions());
    // Every event carries a trace context, as when the publishing replica is traced.
    var trace = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);

    void Count(long n)
    {
        if (Interlocked.Add(ref delivered, n) >= expected)
        {
            done.TrySetResult();
        }
    }

    for (var r = 1; r < replicas; r++)
    {
        var replica = r;
        var subscriber = nodes[r].GetSubscriber();
        if (layout == "broadcast")
        {
            (await subscriber.SubscribeAsync(RedisChannel.Literal(channelName))).OnMessage(message =>
            {
                var (_, _, events) = RelayEnvelope.Decode(key, (byte[])message.Message!);
                var local = 0;
                foreach (var user in events.SelectMany(e => e.Recipients))
                {
                    if (user % replicas == replica) local++;
                }
                Count(local);
            });
        }
        else
        {
            for (var user = replica; user < Users; user += replicas)
            {
                (await subscriber.SubscribeAsync(RedisChannel.Literal($"{channelName}:{user}"))).OnMessage(_ => Count(1));
            }
        }
    }

    var redisCpuBefore = await RedisCpuAsync(nodes[0]);
    var appCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    var publisher = nodes[0].GetSubscriber();
    var pending = new List<Task>(4096);
    foreach (var eventRecipients in recipients)
    {
        if (layout == "broadcast")
        {
            pending.Add(publisher.PublishAsync(RedisChannel.Literal(channelName), RelayEnvelope.Encode(key, publisherNode, trace, [new RealtimeEvent(eventRecipients, frame)])));
        }
        else
        {
            foreach (var user in eventRecipients)
            {
                if (user % replicas != 0)
                {
                    pending.Add(publisher.PublishAsync(RedisChannel.Literal($"{channelName}:{user}"), frame));
                }
            }
        }
        if (pending.Count >= 4096)
        {
            await Task.WhenAll(pending);
            pending.Clear();
        }
    }
    await Task.WhenAll(pending);
    await done.Task.WaitAsync(TimeSpan.FromMinutes(2));
    clock.Stop();
    var appCpu = Process.GetCurrentProcess().TotalProcessorTime - appCpuBefore;
    var redisCpu = await RedisCpuAsync(nodes[0]) - redisCpuBefore;

    Console.WriteLine($"{layout,-10} {replicas,8} {group,6} {events / clock.Elapsed.TotalSeconds,10:N0} {expected / clock.Elapsed.TotalSeconds,13:N0} {redisCpu * 1e6 / events,19:N1} {appCpu.TotalMicroseconds / events,17:N1}");
    foreach (var node in nodes)
    {
        await node.DisposeAsync();
    }
}

static async Task<double> RedisCpuAsync(ConnectionMultiplexer redis)
{
    var info = (await redis.GetServers()[0].InfoAsync("cpu")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
    return double.Parse(info["used_cpu_user"], System.Globalization.CultureInfo.InvariantCulture) + double.Parse(info["used_cpu_sys"], System.Globalization.CultureInfo.InvariantCulture);
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
