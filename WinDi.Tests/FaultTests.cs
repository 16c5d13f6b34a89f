using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using WinDi.Api.Data;

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

    [Fact]
    public async Task WhenTheDatabaseIsUnreachableRestAnswers503WithAProblem()
    {
        // One attempt instead of EF's six (about a minute of backoff): the answer is the same, only sooner.
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?>
        {
            ["ConnectionStrings:windi"] = $"Host=127.0.0.1;Port={PostgresServer.FreePort()};Username=postgres;Database=windi;Timeout=2",
        }, services => services.ConfigureDbContext<WinDiDb>(options => options.UseNpgsql(npgsql => npgsql.EnableRetryOnFailure(0))));
        using var anonymous = app.Anonymous();
        using var authorized = app.Authorized(Jwt.Sign(42, DateTime.UtcNow.AddMinutes(5), WinDiApp.JwtSecret));

        using var login = await anonymous.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "a@example.com", ["password"] = "secret1" }));
        using var chats = await authorized.GetAsync("/chats");

        foreach (var response in new[] { login, chats })
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(503, problem.GetProperty("status").GetInt32());
            Assert.Contains("database", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }
}
