#:project ../WinDi.Api/WinDi.Api.csproj
#:property PublishAot=false

// What authenticating relay envelopes costs per message: CPU time of encoding plus decoding one envelope
// (a NEW_MESSAGE for a group of ten, with a trace context) with its HMAC-SHA256 tag, against the same
// run's cost of the tag alone and of copying the same bytes, so the figure is a ratio on a shared machine.
// Usage: dotnet run benchmarks/RelayEnvelopeCost.cs [-- --messages N]
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using WinDi.Api.Auth;
using WinDi.Api.Realtime;

var arguments = args.ToList();
var messages = arguments.IndexOf("--messages") is var i and >= 0 ? int.Parse(arguments[i + 1], System.Globalization.CultureInfo.InvariantCulture) : 500_000;

var key = new RelayKey(new RelayOptions { Secret = "benchmark relay secret, not a real one" }, new JwtOptions());
var frame = Encoding.UTF8.GetBytes("""{"command":"NEW_MESSAGE","id":123456,"chat_id":4242,"sender_id":17,"text":"A typical short chat message, about eighty characters long, give or take.","client_message_id":"6f1c2a9e5b7d4e0f8a3b1c2d3e4f5a6b","timestamp":1795500000,"is_read":false}""");
var recipients = Enumerable.Range(1, 10).Select(u => (long)u).ToArray();
var realtimeEvent = new RealtimeEvent(recipients, frame);
var trace = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
var node = Guid.NewGuid();
var sample = RelayEnvelope.Encode(key, node, trace, [realtimeEvent]);
var hmacKey = RandomNumberGenerator.GetBytes(32);
var tag = new byte[32];

double CpuMicrosecondsPerMessage(Action one)
{
    for (var w = 0; w < 10_000; w++) one(); // warm up (tiered JIT)
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    for (var n = 0; n < messages; n++) one();
    return (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / messages;
}

var envelope = CpuMicrosecondsPerMessage(() => RelayEnvelope.Decode(key, RelayEnvelope.Encode(key, node, trace, [realtimeEvent])));
var tagsAlone = CpuMicrosecondsPerMessage(() =>
{
    HMACSHA256.HashData(hmacKey, sample.AsSpan(0, sample.Length - RelayEnvelope.TagBytes), tag);
    HMACSHA256.HashData(hmacKey, sample.AsSpan(0, sample.Length - RelayEnvelope.TagBytes), tag);
});
using var reused = new HMACSHA256(hmacKey);
var tagsReused = CpuMicrosecondsPerMessage(() =>
{
    reused.TryComputeHash(sample.AsSpan(0, sample.Length - RelayEnvelope.TagBytes), tag, out _);
    reused.TryComputeHash(sample.AsSpan(0, sample.Length - RelayEnvelope.TagBytes), tag, out _);
});
var copies = CpuMicrosecondsPerMessage(() => { _ = sample.ToArray(); _ = frame.ToArray(); });

Console.WriteLine($"WinDi relay envelope cost: {messages:N0} messages, envelope {sample.Length} B (group of {recipients.Length}, trace context), {Environment.ProcessorCount} cores");
Console.WriteLine($"{"what",-44} {"CPU µs/message",15} {"× copying",10}");
Console.WriteLine($"{"encode + decode, HMAC-SHA256 tag checked",-44} {envelope,15:F2} {envelope / copies,10:F1}");
Console.WriteLine($"{"two HMACs, one keyed instance reused",-44} {tagsReused,15:F2} {tagsReused / copies,10:F1}");
Console.WriteLine($"{"two one-shot HMACSHA256.HashData (until 12/02)",-44} {tagsAlone,15:F2} {tagsAlone / copies,10:F1}");
Console.WriteLine($"{"copying the envelope and the frame",-44} {copies,15:F2} {1,10:F1}");
Console.WriteLine($"the tag (reused HMAC) is {tagsReused / envelope:P0} of the envelope's cost");
