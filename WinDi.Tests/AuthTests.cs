namespace WinDi.Tests;

public sealed class AuthTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task RegisteringReturnsTheNewAccountWithoutThePassword()
    {
        using var http = app.Anonymous();
        var email = $"New.Person.{Guid.NewGuid():N}@Example.com";
        var response = await http.PostAsJsonAsync("/register", new { name = "New Person", email, password = "secret1" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.Id() > 0);
        Assert.Equal(email, body.GetProperty("email").GetString());
        Assert.Equal("New Person", body.GetProperty("name").GetString());
        Assert.False(body.TryGetProperty("password", out _));
        Assert.False(body.TryGetProperty("password_hash", out _));
    }

    [Fact]
    public async Task TheSameEmailInAnotherCaseIsTaken()
    {
        using var http = app.Anonymous();
        var email = $"taken.{Guid.NewGuid():N}@example.com";
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/register", new { name = "First", email, password = "secret1" })).StatusCode);

        var again = await http.PostAsJsonAsync("/register", new { name = "Second", email = email.ToUpperInvariant(), password = "secret2" });

        await again.AssertProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task ParallelRegistrationsOfOneEmailCreateOneAccount()
    {
        var email = $"race.{Guid.NewGuid():N}@example.com";
        var attempts = Enumerable.Range(0, 10).Select(async i =>
        {
            using var http = app.Anonymous();
            return (await http.PostAsJsonAsync("/register", new { name = $"Racer {i}", email, password = "secret1" })).StatusCode;
        });

        var statuses = await Task.WhenAll(attempts);

        Assert.Single(statuses, s => s == HttpStatusCode.Created);
        Assert.All(statuses.Where(s => s != HttpStatusCode.Created), s => Assert.Equal(HttpStatusCode.Conflict, s));
        Assert.Equal(1L, await app.Postgres.ScalarAsync<long>("SELECT count(*) FROM users WHERE normalized_email = $1", email.ToUpperInvariant()));
    }

    [Theory]
    [InlineData("", "ok@example.com", "secret1", "name")]
    [InlineData("   ", "ok@example.com", "secret1", "name")]
    [InlineData("This name is far too long to be accepted by the service ok", "ok@example.com", "secret1", "name")]
    [InlineData("Valid", "not-an-email", "secret1", "email")]
    [InlineData("Valid", "", "secret1", "email")]
    [InlineData("Valid", "ok@example.com", "short", "password")]
    [InlineData("Valid", "ok@example.com", null, "password")]
    public async Task InvalidRegistrationsAreRefusedWithTheFieldThatIsWrong(string? name, string? email, string? password, string field)
    {
        using var http = app.Anonymous();
        var response = await http.PostAsJsonAsync("/register", new { name, email, password });

        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task APasswordOfMoreThan128CharactersIsRefused()
    {
        using var http = app.Anonymous();
        var response = await http.PostAsJsonAsync("/register", new { name = "Long", email = $"long.{Guid.NewGuid():N}@example.com", password = new string('x', 129) });
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task MalformedJsonIsABadRequestWithAReason()
    {
        using var http = app.Anonymous();
        var response = await http.PostAsync("/register", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"));
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ARequestBodyOver64KiBIsRefused()
    {
        using var http = app.Anonymous();
        var response = await http.PostAsJsonAsync("/register", new { name = "Big", email = "big@example.com", password = new string('x', 70_000) });
        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task LoggingInGivesABearerTokenThatOpensUsersMe()
    {
        var user = await app.RegisterAsync("Token Holder");
        using var http = app.Anonymous();
        var response = await http.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = user.Email, ["password"] = user.Password }));

        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("bearer", body.GetProperty("token_type").GetString());
        Assert.Equal(30 * 60, body.GetProperty("expires_in").GetInt32());
        using var authorized = app.Authorized(body.GetProperty("access_token").GetString()!);
        var me = await authorized.GetFromJsonAsync<JsonElement>("/users/me");
        Assert.Equal(user.Id, me.Id());
        Assert.Equal(user.Email, me.GetProperty("email").GetString());
        Assert.Equal("Token Holder", me.GetProperty("name").GetString());
    }

    [Fact]
    public async Task TheEmailIsCaseInsensitiveAtLogin()
    {
        var user = await app.RegisterAsync();
        var token = await app.LoginAsync(user.Email.ToUpperInvariant(), user.Password);
        Assert.False(string.IsNullOrEmpty(token));
    }

    [Fact]
    public async Task AWrongPasswordOrUnknownEmailIs401()
    {
        var user = await app.RegisterAsync();
        using var http = app.Anonymous();

        var wrongPassword = await http.PostAsync("/token", Form(user.Email, "not the password"));
        var unknownEmail = await http.PostAsync("/token", Form($"nobody.{Guid.NewGuid():N}@example.com", "whatever"));

        await wrongPassword.AssertProblemAsync(HttpStatusCode.Unauthorized);
        await unknownEmail.AssertProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task ATokenRequestWithoutCredentialsIsRefused()
    {
        using var http = app.Anonymous();
        var response = await http.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string>()));
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("GET", "/users/me")]
    [InlineData("GET", "/users?search=a")]
    [InlineData("GET", "/chats")]
    [InlineData("POST", "/chats")]
    [InlineData("GET", "/chats/1")]
    [InlineData("POST", "/chats/1/add-user?user_id=2")]
    [InlineData("DELETE", "/chats/1/exit")]
    [InlineData("GET", "/history/1")]
    public async Task ProtectedEndpointsRefuseRequestsWithoutAValidToken(string method, string path)
    {
        using var anonymous = app.Anonymous();
        using var forged = app.Authorized(ForgedToken());
        using var garbage = app.Authorized("not-a-token");

        foreach (var client in new[] { anonymous, forged, garbage })
        {
            var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = JsonContent.Create(new { is_group = true, name = "x" }) });
            await response.AssertProblemAsync(HttpStatusCode.Unauthorized);
        }
    }

    [Fact]
    public async Task AnExpiredTokenIsRefused()
    {
        await using var shortLived = new WinDiApp(app.Postgres, new Dictionary<string, string?> { ["Jwt:AccessTokenMinutes"] = "1" });
        var user = await shortLived.RegisterAsync();
        using var expired = app.Authorized(Jwt.Sign(user.Id, DateTime.UtcNow.AddMinutes(-5), WinDiApp.JwtSecret));

        var response = await expired.GetAsync("/users/me");

        await response.AssertProblemAsync(HttpStatusCode.Unauthorized);
    }

    private static FormUrlEncodedContent Form(string username, string password) =>
        new(new Dictionary<string, string> { ["username"] = username, ["password"] = password });

    private static string ForgedToken() => Jwt.Sign(1, DateTime.UtcNow.AddMinutes(10), "a-different-secret-that-is-long-enough-1234567890");
}
