namespace WinDi.Tests;

public sealed class FaultTests(PostgresServer postgres)
{
    [Fact]
    public async Task WhenTheDatabaseIsUnreachableASendGetsAnInternalErrorAndTheConnectionStaysUsable()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?>
        {
            ["ConnectionStrings:windi"] = $"Host=127.0.0.1;Port={PostgresServer.FreePort()};Username=postgres;Database=windi;Timeout=2",
        });
        // Tokens need no database: the bearer handler checks the signature only.
        await using var ws = await WsClient.ConnectAsync(app, Jwt.Sign(42, DateTime.UtcNow.AddMinutes(5), WinDiApp.JwtSecret));

        await ws.SendMessageAsync(1, "into the void", "void-1");
        var error = await ws.ExpectErrorAsync("internal");
        await ws.SendAsync("READ_MESSAGE", new { id = 7 });
        var readError = await ws.ExpectErrorAsync("internal");

        Assert.Equal("void-1", error.GetProperty("client_message_id").GetString());
        Assert.Equal(7, readError.Id());
        Assert.DoesNotContain(app.Logs, line => line.Contains("into the void", StringComparison.Ordinal));
        await ws.SendAsync("PING");
        await ws.ExpectAsync("PONG");
    }
}
