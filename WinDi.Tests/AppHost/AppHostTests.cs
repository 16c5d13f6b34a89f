using System.Net.WebSockets;
using System.Text;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace WinDi.Tests.AppHost;

/// <summary>
/// The whole application as the AppHost wires it (no-container mode): the worker gated before the API, two
/// API replicas relaying over Redis.
/// </summary>
[Collection(AppHostTestGroup.Name)]
public sealed class AppHostTests(AppHostFixture fixture)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    // Seed data on a fresh database (the fixture drops the data volume): chat 1 is private Alice–Ben.
    private const long AliceAndBenChatId = 1;

    [Fact(Timeout = 120_000)]
    public async Task TheWholeAppComesUpHealthyAfterTheMigrationWorkerFinishes()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Wait);

        Assert.Equal(KnownResourceStates.Finished, fixture.Migrations.Snapshot.State?.Text);
        Assert.Equal(0, fixture.Migrations.Snapshot.ExitCode);
        Assert.Equal(HealthStatus.Healthy, fixture.Api.Snapshot.HealthStatus);

        // Through the proxy, as a client of the AppHost sees it.
        using var proxied = fixture.App.CreateHttpClient("api");
        await AssertHealthyAsync(proxied, timeout.Token);

        // And on each replica's own port: both started, both reach PostgreSQL and Redis.
        var replicas = await fixture.ReplicaAddressesAsync(timeout.Token);
        Assert.Equal(AppHostFixture.ApiReplicas, replicas.Distinct().Count());
        foreach (var replica in replicas)
        {
            using var direct = new HttpClient { BaseAddress = replica };
            await AssertHealthyAsync(direct, timeout.Token);
        }
    }

    /// <summary>
    /// Alice's socket is on one replica's own port, Ben's on the other's, with no proxy in between, so the
    /// only way the message can reach Ben is the Redis relay. Each logs in on the replica they do not
    /// connect to, so this also proves that both replicas got the same Jwt__Secret from the parameter.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task AMessageSentOnOneReplicaReachesTheRecipientOnTheOther()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Wait);
        var replicas = await fixture.ReplicaAddressesAsync(timeout.Token);
        var (first, second) = (replicas[0], replicas[1]);

        var aliceToken = await LogInAsync(second, "alice.wright87@example.com", "Zx7!pTn9vR", timeout.Token);
        var benToken = await LogInAsync(first, "ben.stevens55@example.com", "uJ2#kLo8bW", timeout.Token);
        using var alice = await ConnectAsync(first, aliceToken, timeout.Token);
        using var ben = await ConnectAsync(second, benToken, timeout.Token);
        // A PONG on each socket shows both connections are live on their replicas before anything is sent.
        await PingAsync(alice, timeout.Token);
        await PingAsync(ben, timeout.Token);

        var clientMessageId = Guid.NewGuid().ToString();
        var text = $"across replicas {clientMessageId[..8]}";
        await SendAsync(alice, new { command = "SEND_MESSAGE", payload = new { chat_id = AliceAndBenChatId, text, client_message_id = clientMessageId } }, timeout.Token);

        var received = await ReceiveAsync(ben, IsNewMessage(clientMessageId), timeout.Token);
        Assert.Equal(text, received.GetProperty("text").GetString());
        Assert.Equal(AliceAndBenChatId, received.GetProperty("chat_id").GetInt64());
        var echo = await ReceiveAsync(alice, IsNewMessage(clientMessageId), timeout.Token);
        Assert.Equal(echo.GetProperty("id").GetInt64(), received.GetProperty("id").GetInt64());
        Assert.Equal(echo.GetProperty("sender_id").GetInt64(), received.GetProperty("sender_id").GetInt64());
    }

    /// <summary>Redis only relays events: without it both replicas stay in rotation (200 Degraded), and they recover by themselves.</summary>
    [Fact(Timeout = 120_000)]
    public async Task HealthIsDegradedWhileRedisIsStoppedAndHealthyWhenItIsBack()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        var replicas = await fixture.ReplicaAddressesAsync(timeout.Token);

        var stopped = await fixture.App.ResourceCommands.ExecuteCommandAsync("redis", KnownResourceCommands.StopCommand, timeout.Token);
        Assert.True(stopped.Success, stopped.Message);
        try
        {
            foreach (var replica in replicas)
            {
                await WaitForHealthAsync(replica, "Degraded", timeout.Token);
            }
        }
        finally
        {
            var started = await fixture.App.ResourceCommands.ExecuteCommandAsync("redis", KnownResourceCommands.StartCommand, timeout.Token);
            Assert.True(started.Success, started.Message);
        }
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync("redis", timeout.Token);
        foreach (var replica in replicas)
        {
            await WaitForHealthAsync(replica, "Healthy", timeout.Token);
        }
    }

    private static async Task WaitForHealthAsync(Uri replica, string expected, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = replica };
        var last = "";
        while (true)
        {
            using var response = await http.GetAsync("/health", cancellationToken);
            last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}";
            if (response.StatusCode == HttpStatusCode.OK && last.EndsWith(expected, StringComparison.Ordinal))
            {
                return;
            }
            Assert.False(cancellationToken.IsCancellationRequested, $"{replica}health stayed '{last}', expected 200 {expected}");
            await Task.Delay(250, cancellationToken);
        }
    }

    private static async Task AssertHealthyAsync(HttpClient http, CancellationToken cancellationToken)
    {
        foreach (var path in new[] { "/health", "/alive" })
        {
            using var response = await http.GetAsync(path, cancellationToken);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {http.BaseAddress}{path[1..]}: {(int)response.StatusCode}");
            Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(cancellationToken));
        }
    }

    private static async Task<string> LogInAsync(Uri replica, string email, string password, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = replica };
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = email, ["password"] = password });
        using var response = await http.PostAsync("/token", form, cancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {replica}token as {email}: {(int)response.StatusCode}");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return body.GetProperty("access_token").GetString()!;
    }

    private static async Task<ClientWebSocket> ConnectAsync(Uri replica, string token, CancellationToken cancellationToken)
    {
        var uri = new UriBuilder(replica)
        {
            Scheme = replica.Scheme == Uri.UriSchemeHttps ? "wss" : "ws",
            Path = "/ws",
            Query = $"access_token={Uri.EscapeDataString(token)}",
        }.Uri;
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(uri, cancellationToken);
        return socket;
    }

    private static Task SendAsync(ClientWebSocket socket, object frame, CancellationToken cancellationToken) =>
        socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(frame), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    private static async Task PingAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        await SendAsync(socket, new { command = "PING" }, cancellationToken);
        await ReceiveAsync(socket, frame => frame.GetProperty("command").GetString() == "PONG", cancellationToken);
    }

    private static Func<JsonElement, bool> IsNewMessage(string clientMessageId) =>
        frame => frame.GetProperty("command").GetString() == "NEW_MESSAGE"
            && frame.TryGetProperty("client_message_id", out var id) && id.GetString() == clientMessageId;

    /// <summary>Reads frames until one matches; cancelling aborts the socket, which only happens when the test fails anyway.</summary>
    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket, Func<JsonElement, bool> match, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        var seen = new StringBuilder();
        try
        {
            while (true)
            {
                using var message = new MemoryStream();
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        throw new InvalidOperationException($"The server closed the socket ({socket.CloseStatus}: {socket.CloseStatusDescription}) after: {seen}");
                    }
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                using var document = JsonDocument.Parse(message.ToArray());
                var frame = document.RootElement.Clone();
                if (match(frame))
                {
                    return frame;
                }
                seen.Append(frame.GetRawText()).Append(' ');
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No matching frame in time; received: {(seen.Length == 0 ? "nothing" : seen.ToString())}");
        }
    }
}
