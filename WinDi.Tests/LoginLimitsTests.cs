namespace WinDi.Tests;

/// <summary>
/// DESIGN §6: /token and /register are limited per client address. Other client addresses are other loopback
/// addresses (127.0.0.2).
/// </summary>
public sealed class LoginLimitsTests(PostgresServer postgres)
{
    private static readonly IPAddress OwnersAddress = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task BeyondTheAuthRequestLimitRegisterAndTokenGet429WithRetryAfterWhileAnotherAddressIsServed()
    {
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["Limits:AuthRequestsPerMinutePerAddress"] = "4" });
        using var busy = app.Anonymous();
        var first = NewPerson();
        var second = NewPerson();

        Assert.Equal(HttpStatusCode.Created, (await busy.PostAsJsonAsync("/register", first)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await busy.PostAsync("/token", Form(first.Email, first.Password))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await busy.PostAsync("/token", Form(first.Email, "wrong password"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await busy.PostAsJsonAsync("/register", second)).StatusCode);
        var register = await busy.PostAsJsonAsync("/register", NewPerson());
        var token = await busy.PostAsync("/token", Form(first.Email, first.Password));

        await AssertAllTooManyAsync([register, token]);
        Assert.All(new[] { register, token }, answer => Assert.InRange(answer.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));
        using var elsewhere = app.AnonymousFrom(OwnersAddress);
        var third = NewPerson();
        Assert.Equal(HttpStatusCode.Created, (await elsewhere.PostAsJsonAsync("/register", third)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await elsewhere.PostAsync("/token", Form(first.Email, first.Password))).StatusCode);
    }

    private static async Task AssertAllTooManyAsync(IEnumerable<HttpResponseMessage> answers)
    {
        foreach (var answer in answers)
        {
            await answer.AssertProblemAsync(HttpStatusCode.TooManyRequests);
            Assert.True(answer.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After tells the client how long to wait");
        }
    }

    private static Person NewPerson() => new("Busy Person", $"busy.{Guid.NewGuid():N}@example.com", "correct horse battery");

    private sealed record Person(string Name, string Email, string Password);

    private static FormUrlEncodedContent Form(string username, string password) =>
        new(new Dictionary<string, string> { ["username"] = username, ["password"] = password });
}
