using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using WinDi.Api.Auth;

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
    [InlineData("POST", "/logout")]
    [InlineData("GET", "/sessions")]
    [InlineData("DELETE", "/sessions/0198f5e0-0000-7000-8000-000000000001")]
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

    [Fact]
    public async Task ACorrectlySignedTokenForAUserWhoDoesNotExistIs401OnEveryProtectedEndpoint()
    {
        var token = Jwt.Sign(UnknownUserId(), DateTime.UtcNow.AddMinutes(10), WinDiApp.JwtSecret);
        using var nobody = app.Authorized(token);
        var endpoints = ProtectedEndpoints();
        Assert.Superset(new HashSet<string> { "GET /chats/", "POST /chats/", "GET /history/{chatId:long}", "GET /users/", "GET /users/me", "GET /ws/{token}", "POST /logout", "GET /sessions", "DELETE /sessions/{id:guid}" }, endpoints.ToHashSet());

        foreach (var endpoint in endpoints)
        {
            // The token in /ws/{token} is the token itself (it wins over the header); every other parameter is an id.
            var (method, route) = (endpoint.Split(' ')[0], endpoint.Split(' ')[1].Replace("{token}", token, StringComparison.Ordinal));
            // Session ids are Guids (a route constraint); every other id is a number.
            var path = Regex.Replace(Regex.Replace(route, "{[^}]+:guid}", Guid.NewGuid().ToString()), "{[^}]+}", "1");
            var response = await nobody.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = JsonContent.Create(new { is_group = true, name = "x" }) });
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{endpoint}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var problem = await response.AssertProblemAsync(HttpStatusCode.Unauthorized);
            Assert.Contains("no longer exists", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ADeletedUsersTokenIsRefusedWithinTheCacheLifetime()
    {
        var gone = await app.RegisterAsync();
        Assert.Equal(HttpStatusCode.OK, (await gone.Http.GetAsync("/chats")).StatusCode);

        await app.Postgres.ExecuteAsync("DELETE FROM users WHERE id = $1", gone.Id);
        var deleted = Stopwatch.StartNew();

        // Until the cached answer expires the token may still pass (and the handlers then find no user), never a 500.
        while (true)
        {
            using var response = await gone.Http.GetAsync("/chats");
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                break;
            }
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(deleted.Elapsed < AccessCheck.FreshFor + TimeSpan.FromSeconds(1), $"Still accepted {deleted.Elapsed} after the user was deleted.");
            await Task.Delay(100);
        }
        await (await gone.Http.PostAsJsonAsync("/chats", new { is_group = true, name = "after deletion" })).AssertProblemAsync(HttpStatusCode.Unauthorized);
        var refused = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => gone.ConnectAsync());
        Assert.Contains("401", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Counts the lookups in the database itself (Npgsql's spans), told apart from other tests' by the trace id
    /// each request carries in its traceparent: a burst of parallel requests for a user not yet cached, then
    /// more one by one, query once per cache lifetime, not once per request.
    /// </summary>
    [Fact]
    public async Task CheckingThatTheUserExistsCostsOneQueryPerCacheLifetimeNotOnePerRequest()
    {
        var recorded = new ConcurrentQueue<Activity>();
        using var listener = Traces.Listen(source => source is "Npgsql" or "Microsoft.AspNetCore", recorded.Enqueue);
        var ann = await app.RegisterAsync();
        var trace = ActivityTraceId.CreateRandom();
        // A client that sends the traceparent given, not one of its own: without a propagator, SocketsHttpHandler leaves
        // out its diagnostics (no client span, which the API's tracing in this process would otherwise inject).
        using var http = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null })
        {
            BaseAddress = app.BaseAddress,
        };
        Task<HttpResponseMessage> Get() => http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/users/me")
        {
            Headers = { { "Authorization", $"Bearer {ann.Token}" }, { "traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom()}-01" } },
        });

        var clock = Stopwatch.StartNew();
        var burst = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Get()));
        var sequential = new List<HttpResponseMessage>();
        for (var i = 0; i < 20; i++)
        {
            sequential.Add(await Get());
        }
        var elapsed = clock.Elapsed;

        Assert.All(burst.Concat(sequential), response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        await Task.Delay(100); // a span stops a moment after its response is sent
        // Ann's token names her session, so the lookup is the one that checks the user and the session together.
        var lookups = recorded.Count(a => a.TraceId == trace && a.TagObjects.Any(tag => Equals(tag.Value, AccessCheck.SessionLiveSql)));
        var queries = recorded.Count(a => a.TraceId == trace && a.Source.Name == "Npgsql");
        Assert.True(queries >= 40, $"Only {queries} database spans were seen in the trace: the count above would prove nothing.");
        Assert.InRange(lookups, 1, 1 + (int)(elapsed / AccessCheck.FreshFor));
    }

    private List<string> ProtectedEndpoints() =>
    [
        .. app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IAuthorizeData>() is not null && e.Metadata.GetMetadata<IAllowAnonymous>() is null)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(method => $"{method} {e.RoutePattern.RawText}")),
    ];

    /// <summary>An id no test user has: ids come from a sequence that starts at 1.</summary>
    private static long UnknownUserId() => long.MaxValue - Random.Shared.Next(1_000_000);

    private static FormUrlEncodedContent Form(string username, string password) =>
        new(new Dictionary<string, string> { ["username"] = username, ["password"] = password });

    private static string ForgedToken() => Jwt.Sign(1, DateTime.UtcNow.AddMinutes(10), "a-different-secret-that-is-long-enough-1234567890");
}
