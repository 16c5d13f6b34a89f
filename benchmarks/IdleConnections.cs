#:property PublishAot=false

// Memory of idle WebSocket connections on a running WinDi API process (Linux): opens N connections for one
// user, waits, and reads the API process's resident memory (VmRSS) before and after.
//   dotnet run benchmarks/IdleConnections.cs -- --url http://localhost:8000 --pid <API process id> --connections 5000
// Find the pid with: ss -ltnp 'sport = :8000'
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;

var arguments = args.ToList();
string Option(string name, string fallback) => arguments.IndexOf(name) is var i and >= 0 && i + 1 < arguments.Count ? arguments[i + 1] : fallback;
var url = new Uri(Option("--url", "http://localhost:8000"));
var pid = int.Parse(Option("--pid", "0"), System.Globalization.CultureInfo.InvariantCulture);
var count = int.Parse(Option("--connections", "5000"), System.Globalization.CultureInfo.InvariantCulture);

long ResidentKiB() => long.Parse(File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
    .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);

using var http = new HttpClient { BaseAddress = url };
var email = $"idle.{Guid.NewGuid():N}@example.com";
await http.PostAsJsonAsync("/register", new { name = "Idle", email, password = "benchmark-pass" });
var login = await http.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = email, ["password"] = "benchmark-pass" }));
var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString();

// Warm the server up with one connection, so first-use costs (JIT, pools) are not counted per connection.
using (var warm = new ClientWebSocket())
{
    await warm.ConnectAsync(new Uri($"ws://{url.Authority}/ws?access_token={token}"), CancellationToken.None);
    await warm.SendAsync("{\"command\":\"PING\"}"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
    await warm.ReceiveAsync(new byte[256], CancellationToken.None);
}
await Task.Delay(2000);
var before = ResidentKiB();

var sockets = new List<ClientWebSocket>(count);
for (var i = 0; i < count; i++)
{
    var socket = new ClientWebSocket();
    await socket.ConnectAsync(new Uri($"ws://{url.Authority}/ws?access_token={token}"), CancellationToken.None);
    sockets.Add(socket);
}
await Task.Delay(5000);
var after = ResidentKiB();

Console.WriteLine($"WinDi idle connections: {count} WebSockets on process {pid}");
Console.WriteLine($"  resident memory {before / 1024.0:F1} MiB → {after / 1024.0:F1} MiB: {(after - before) * 1024.0 / count / 1024:F1} KiB per idle connection");
foreach (var socket in sockets)
{
    socket.Abort();
}
