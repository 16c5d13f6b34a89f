#:property PublishAot=false

// End-to-end send benchmark against a running WinDi (./run.sh, or any deployment):
// N senders, each on its own WebSocket, spread round-robin over the given replicas, send M messages each
// into one group whose members are all the senders. It measures, per message, the time from SEND_MESSAGE
// to the sender's NEW_MESSAGE echo (stored in PostgreSQL and relayed), and the overall throughput.
// Raise the per-connection send limit for the API first, e.g.
//   Limits__SendPerSecond=100000 Limits__SendBurst=100000 ./run.sh
//   dotnet run benchmarks/SendThroughput.cs -- --urls http://localhost:8000,http://localhost:8001 --senders 16 --messages 200
using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

var arguments = args.ToList();
string Option(string name, string fallback) => arguments.IndexOf(name) is var i and >= 0 && i + 1 < arguments.Count ? arguments[i + 1] : fallback;
var urls = Option("--urls", "http://localhost:8000,http://localhost:8001").Split(',').Select(u => new Uri(u)).ToArray();
var senders = int.Parse(Option("--senders", "16"), System.Globalization.CultureInfo.InvariantCulture);
var messages = int.Parse(Option("--messages", "200"), System.Globalization.CultureInfo.InvariantCulture);

using var http = new HttpClient { BaseAddress = urls[0] };
var run = Guid.NewGuid().ToString("N")[..8];
var people = new List<(long Id, string Token)>();
for (var i = 0; i < senders; i++)
{
    var email = $"bench.{run}.{i}@example.com";
    var registered = await http.PostAsJsonAsync("/register", new { name = $"Bench {i}", email, password = "benchmark-pass" });
    var id = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    var login = await http.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = email, ["password"] = "benchmark-pass" }));
    people.Add((id, (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!));
}
http.DefaultRequestHeaders.Authorization = new("Bearer", people[0].Token);
var group = await http.PostAsJsonAsync("/chats", new { is_group = true, name = $"bench {run}" });
var chatId = (await group.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
foreach (var (id, _) in people.Skip(1))
{
    (await http.PostAsync($"/chats/{chatId}/add-user?user_id={id}", null)).EnsureSuccessStatusCode();
}

var sockets = new List<ClientWebSocket>();
for (var i = 0; i < senders; i++)
{
    var socket = new ClientWebSocket();
    var replica = urls[i % urls.Length];
    await socket.ConnectAsync(new Uri($"ws://{replica.Authority}/ws?access_token={people[i].Token}"), CancellationToken.None);
    sockets.Add(socket);
}

Console.WriteLine($"WinDi send benchmark: {senders} senders over {urls.Length} replica(s), {messages} messages each, one group of {senders}");
var latencies = new List<double>[senders];
var total = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, senders).Select(i => SendAllAsync(i)));
total.Stop();

var all = latencies.SelectMany(l => l).Order().ToArray();
double Percentile(double p) => all[Math.Min(all.Length - 1, (int)(p * all.Length))];
Console.WriteLine($"  {all.Length} messages in {total.Elapsed.TotalSeconds:F1} s: {all.Length / total.Elapsed.TotalSeconds:N0} messages/s stored and relayed, {all.Length * senders / total.Elapsed.TotalSeconds:N0} deliveries/s");
Console.WriteLine($"  send → echo latency: p50 {Percentile(0.50):F1} ms, p90 {Percentile(0.90):F1} ms, p99 {Percentile(0.99):F1} ms, max {all[^1]:F1} ms");
foreach (var socket in sockets)
{
    socket.Abort();
}

async Task SendAllAsync(int index)
{
    var socket = sockets[index];
    var own = latencies[index] = new List<double>(messages);
    for (var m = 0; m < messages; m++)
    {
        var clock = Stopwatch.StartNew();
        var frame = JsonSerializer.SerializeToUtf8Bytes(new { command = "SEND_MESSAGE", payload = new { chat_id = chatId, text = $"message {m} from {index}", client_message_id = $"{run}-{index}-{m}" } });
        await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
        // One message in flight per sender, like a person typing: wait for this one's echo.
        await WaitForEchoAsync(socket, $"{run}-{index}-{m}");
        own.Add(clock.Elapsed.TotalMilliseconds);
    }
}

async Task WaitForEchoAsync(ClientWebSocket socket, string clientMessageId)
{
    var buffer = new byte[64 * 1024];
    var needle = $"\"client_message_id\":\"{clientMessageId}\"";
    while (true)
    {
        using var message = new MemoryStream();
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);
        var frame = Encoding.UTF8.GetString(message.ToArray());
        if (frame.Contains("\"ERROR\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException(frame);
        }
        if (frame.Contains(needle, StringComparison.Ordinal))
        {
            return;
        }
    }
}
