using System.Buffers.Text;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using WinDi.Api.Auth;
using WinDi.Api.Realtime;

namespace WinDi.Tests;

/// <summary>DESIGN §7 "Sessions and refresh tokens": the refresh grant of POST /token, rotation, reuse, logout, GET/DELETE /sessions.</summary>
public sealed class SessionsTests(SharedApp shared, PostgresServer postgres) : IClassFixture<SharedApp>
{
    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task ThePasswordGrantAlsoReturnsARefreshTokenAndItsLifetimeWithOrWithoutGrantType()
    {
        var ann = await app.RegisterAsync();
        using var http = app.Anonymous();

        foreach (var form in new[] { Form(("username", ann.Email), ("password", ann.Password)), Form(("grant_type", "password"), ("username", ann.Email), ("password", ann.Password)) })
        {
            var response = await http.PostAsync("/token", form);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(response.Headers.CacheControl?.NoStore, "RFC 6749 §5.1: Cache-Control: no-store");
            var tokens = Tokens.From(await response.Content.ReadFromJsonAsync<JsonElement>());
            Assert.Equal(RefreshTokens.TokenLength, tokens.RefreshToken.Length);
            Assert.Equal(30 * 24 * 60 * 60, tokens.RefreshExpiresIn);
            Assert.Equal(30 * 60, tokens.ExpiresIn);
            Assert.NotEqual(Guid.Empty, tokens.SessionId);
            using var authorized = app.Authorized(tokens.AccessToken);
            Assert.Equal(HttpStatusCode.OK, (await authorized.GetAsync("/users/me")).StatusCode);
        }
        // Each login is a session of its own (RegisterAsync logged in once more).
        Assert.Equal(3L, await postgres.ScalarAsync<long>("SELECT count(*) FROM sessions WHERE user_id = $1", ann.Id));
    }

    [Fact]
    public async Task ARefreshRotatesTheTokenTheNewOneWorksAndTheOldOneIsRefusedWithInvalidGrant()
    {
        var ann = await app.RegisterAsync("Ann Rotating");

        var refreshed = await app.RefreshAsync(ann.RefreshToken);

        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        Assert.True(refreshed.Headers.CacheControl?.NoStore);
        var body = await refreshed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("bearer", body.GetProperty("token_type").GetString());
        var next = Tokens.From(body);
        Assert.NotEqual(ann.RefreshToken, next.RefreshToken);
        Assert.Equal(ann.SessionId(), next.SessionId);
        Assert.Equal(30 * 24 * 60 * 60, next.RefreshExpiresIn);
        using (var authorized = app.Authorized(next.AccessToken))
        {
            var me = await authorized.GetFromJsonAsync<JsonElement>("/users/me");
            Assert.Equal("Ann Rotating", me.GetProperty("name").GetString());
        }
        var again = Tokens.From(await (await app.RefreshAsync(next.RefreshToken)).Content.ReadFromJsonAsync<JsonElement>());
        Assert.Equal(2, await postgres.ScalarAsync<int>("SELECT generation FROM sessions WHERE id = $1", again.SessionId));

        await AssertInvalidGrantAsync(await app.RefreshAsync(ann.RefreshToken));
    }

    [Fact]
    public async Task ReusingARotatedRefreshTokenEndsTheWholeSessionItsTokensAndItsSockets()
    {
        var ann = await app.RegisterAsync();
        var elsewhere = await app.NewSessionAsync(ann.Email, ann.Password);
        var next = Tokens.From(await (await app.RefreshAsync(ann.RefreshToken)).Content.ReadFromJsonAsync<JsonElement>());
        await using var socket = await WsClient.ConnectAsync(app, next.AccessToken);
        await using var otherSocket = await WsClient.ConnectAsync(app, elsewhere.AccessToken);

        // The first token again: whoever holds it, the session is compromised.
        await AssertInvalidGrantAsync(await app.RefreshAsync(ann.RefreshToken));

        await AssertInvalidGrantAsync(await app.RefreshAsync(next.RefreshToken));
        using var stale = app.Authorized(next.AccessToken);
        var refused = await (await stale.GetAsync("/chats")).AssertProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Contains("session", refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await socket.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, socket.CloseStatus);
        Assert.Contains(app.Logs, line => line.Contains($"A rotated refresh token of session {next.SessionId}", StringComparison.Ordinal));
        // The person's other session (another device) goes on.
        await otherSocket.ExpectNothingPendingAsync(TimeSpan.Zero);
        Assert.Equal(HttpStatusCode.OK, (await app.RefreshAsync(elsewhere.RefreshToken)).StatusCode);
    }

    /// <summary>
    /// The server cannot tell a second request with one refresh token from a thief's, so the losers count as reuse
    /// (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): exactly one refresh succeeds, and the session then ends. A client must not
    /// refresh in parallel (the web client keeps one refresh in flight).
    /// </summary>
    [Fact]
    public async Task ParallelRefreshesWithOneTokenSucceedExactlyOnceAndTheLosersCountAsReuse()
    {
        var ann = await app.RegisterAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => app.RefreshAsync(ann.RefreshToken)));

        var winner = Assert.Single(answers, a => a.StatusCode == HttpStatusCode.OK);
        foreach (var loser in answers.Where(a => a != winner))
        {
            await AssertInvalidGrantAsync(loser);
        }
        var winners = Tokens.From(await winner.Content.ReadFromJsonAsync<JsonElement>());
        await AssertInvalidGrantAsync(await app.RefreshAsync(winners.RefreshToken));
        Assert.Equal(1, await postgres.ScalarAsync<int>("SELECT generation FROM sessions WHERE id = $1", winners.SessionId));
    }

    [Fact]
    public async Task AnExpiredRefreshTokenIsRefusedAndItsSessionIsNoLongerListed()
    {
        var ann = await app.RegisterAsync();
        var other = await app.NewSessionAsync(ann.Email, ann.Password);
        // As if Jwt__RefreshTokenDays had passed without a refresh: expiry is decided by the database's clock.
        await postgres.ExecuteAsync("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1", ann.SessionId());

        await AssertInvalidGrantAsync(await app.RefreshAsync(ann.RefreshToken));

        using var otherDevice = app.Authorized(other.AccessToken);
        var listed = await otherDevice.GetFromJsonAsync<JsonElement>("/sessions");
        Assert.Equal([other.SessionId], listed.EnumerateArray().Select(s => s.GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task TheDatabaseHoldsOnlyAHashOfEachRefreshToken()
    {
        var ann = await app.RegisterAsync();
        var next = Tokens.From(await (await app.RefreshAsync(ann.RefreshToken)).Content.ReadFromJsonAsync<JsonElement>());

        foreach (var token in new[] { ann.RefreshToken, next.RefreshToken })
        {
            var secretHex = Convert.ToHexString(Base64Url.DecodeFromChars(token)[^32..]).ToLowerInvariant();
            Assert.Equal(0L, await postgres.ScalarAsync<long>(
                "SELECT count(*) FROM sessions s WHERE s::text LIKE '%' || $1 || '%' OR s::text LIKE '%' || $2 || '%'", token, secretHex));
        }
        var stored = await postgres.ScalarAsync<byte[]>("SELECT refresh_hash FROM sessions WHERE id = $1", next.SessionId);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(next.RefreshToken)), stored);
    }

    [Fact]
    public async Task LogoutEndsTheCallersSessionAtOnceAndNotTheOthers()
    {
        var ann = await app.RegisterAsync();
        var phone = await app.NewSessionAsync(ann.Email, ann.Password);
        await using var socket = await ann.ConnectAsync();
        await using var phoneSocket = await WsClient.ConnectAsync(app, phone.AccessToken);

        var loggedOut = await ann.Http.PostAsync("/logout", null);

        Assert.Equal(HttpStatusCode.NoContent, loggedOut.StatusCode);
        // The replica that revoked it forgets its cached answer: no 5-second grace here.
        await (await ann.Http.GetAsync("/users/me")).AssertProblemAsync(HttpStatusCode.Unauthorized);
        await AssertInvalidGrantAsync(await app.RefreshAsync(ann.RefreshToken));
        await socket.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, socket.CloseStatus);
        var upgrade = await Assert.ThrowsAsync<WebSocketException>(() => ann.ConnectAsync());
        Assert.Contains("401", upgrade.Message, StringComparison.Ordinal);
        await phoneSocket.ExpectNothingPendingAsync(TimeSpan.Zero);
        using var phoneHttp = app.Authorized(phone.AccessToken);
        Assert.Equal(HttpStatusCode.OK, (await phoneHttp.GetAsync("/users/me")).StatusCode);
    }

    [Fact]
    public async Task GetSessionsListsTheCallersLiveSessionsWithTheCurrentOneMarked()
    {
        var ann = await app.RegisterAsync();
        var ben = await app.RegisterAsync();
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var laptop = await app.NewSessionAsync(ann.Email, ann.Password);
        var ended = await app.NewSessionAsync(ann.Email, ann.Password);
        using (var endedHttp = app.Authorized(ended.AccessToken))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await endedHttp.PostAsync("/logout", null)).StatusCode);
        }

        var sessions = (await ann.GetJsonAsync("/sessions")).EnumerateArray().ToList();

        Assert.Equal(new[] { laptop.SessionId, ann.SessionId() }.Order(), sessions.Select(s => s.GetProperty("id").GetGuid()).Order());
        Assert.Equal(ann.SessionId(), Assert.Single(sessions, s => s.GetProperty("current").GetBoolean()).GetProperty("id").GetGuid());
        var laptopEntry = sessions.Single(s => s.GetProperty("id").GetGuid() == laptop.SessionId);
        Assert.InRange(laptopEntry.GetProperty("created_at").GetInt64(), before - 5, before + 60);
        Assert.InRange(laptopEntry.GetProperty("last_used_at").GetInt64(), before - 5, before + 60);
        // Most recently used first: the laptop logged in after ann's first session.
        Assert.Equal(laptop.SessionId, sessions[0].GetProperty("id").GetGuid());
        Assert.Equal(ben.SessionId(), Assert.Single((await ben.GetJsonAsync("/sessions")).EnumerateArray()).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task DeletingASessionSignsThatDeviceOutAndAnotherUsersOrAnUnknownSessionIs404()
    {
        var ann = await app.RegisterAsync();
        var ben = await app.RegisterAsync();
        var annPhone = await app.NewSessionAsync(ann.Email, ann.Password);

        await (await ann.Http.DeleteAsync($"/sessions/{ben.SessionId()}")).AssertProblemAsync(HttpStatusCode.NotFound);
        await (await ann.Http.DeleteAsync($"/sessions/{Guid.NewGuid()}")).AssertProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await ben.Http.GetAsync("/users/me")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await ann.Http.DeleteAsync($"/sessions/{annPhone.SessionId}")).StatusCode);

        await AssertInvalidGrantAsync(await app.RefreshAsync(annPhone.RefreshToken));
        using var phone = app.Authorized(annPhone.AccessToken);
        await (await phone.GetAsync("/users/me")).AssertProblemAsync(HttpStatusCode.Unauthorized);
        // Already ended: there is no live session with that id any more.
        await (await ann.Http.DeleteAsync($"/sessions/{annPhone.SessionId}")).AssertProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await ann.Http.GetAsync("/users/me")).StatusCode);
    }

    [Fact]
    public async Task BadRefreshRequestsAre400WithTheirOAuthErrorCode()
    {
        using var http = app.Anonymous();

        var unsupported = await (await http.PostAsync("/token", Form(("grant_type", "client_credentials")))).AssertProblemAsync(HttpStatusCode.BadRequest);
        var missing = await (await http.PostAsync("/token", Form(("grant_type", "refresh_token")))).AssertProblemAsync(HttpStatusCode.BadRequest);
        var noPassword = await (await http.PostAsync("/token", Form(("username", "someone@example.com")))).AssertProblemAsync(HttpStatusCode.BadRequest);

        Assert.Equal("unsupported_grant_type", unsupported.GetProperty("error").GetString());
        Assert.True(unsupported.GetProperty("errors").TryGetProperty("grant_type", out _));
        Assert.Equal("invalid_request", missing.GetProperty("error").GetString());
        Assert.True(missing.GetProperty("errors").TryGetProperty("refresh_token", out _));
        Assert.Equal("invalid_request", noPassword.GetProperty("error").GetString());
        foreach (var garbage in new[] { "not-a-token", new string('A', RefreshTokens.TokenLength), "" + Guid.NewGuid() })
        {
            await AssertInvalidGrantAsync(await app.RefreshAsync(garbage));
        }
    }

    /// <summary>
    /// A session id is no secret (it is in every access token), so a made-up "old" token of a session must not be taken
    /// for reuse: only a token WinDi minted (its tag verifies) revokes its session when it comes back.
    /// </summary>
    [Fact]
    public async Task AMadeUpOldTokenOfASessionIsRefusedWithoutEndingTheSession()
    {
        var ann = await app.RegisterAsync();
        var next = Tokens.From(await (await app.RefreshAsync(ann.RefreshToken)).Content.ReadFromJsonAsync<JsonElement>());
        var forged = Base64Url.DecodeFromChars(next.RefreshToken);
        forged.AsSpan(16, 4).Clear(); // generation 0, older than the session's 1
        RandomNumberGenerator.Fill(forged.AsSpan(20)); // a tag and secret WinDi never minted

        await AssertInvalidGrantAsync(await app.RefreshAsync(Base64Url.EncodeToString(forged)));

        Assert.Equal(HttpStatusCode.OK, (await app.RefreshAsync(next.RefreshToken)).StatusCode);
    }

    /// <summary>
    /// Tokens minted before sessions existed (and the tests' own <see cref="Jwt.Sign"/>) carry no <c>sid</c>: they are
    /// checked for their user alone and live out their short lifetime; /logout with one has nothing to end.
    /// </summary>
    [Fact]
    public async Task ATokenWithoutASessionIsCheckedForItsUserAloneAndLogoutWithItEndsNothing()
    {
        var ann = await app.RegisterAsync();
        using var legacy = app.Authorized(Jwt.Sign(ann.Id, DateTime.UtcNow.AddMinutes(10), WinDiApp.JwtSecret));

        Assert.Equal(HttpStatusCode.NoContent, (await legacy.PostAsync("/logout", null)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await legacy.GetAsync("/users/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ann.Http.GetAsync("/users/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.RefreshAsync(ann.RefreshToken)).StatusCode);
    }

    [Fact]
    public async Task ADeletedUsersSessionsGoWithThemAndTheirRefreshTokenIsRefused()
    {
        var gone = await app.RegisterAsync();

        await postgres.ExecuteAsync("DELETE FROM users WHERE id = $1", gone.Id);

        await AssertInvalidGrantAsync(await app.RefreshAsync(gone.RefreshToken));
        Assert.Equal(0L, await postgres.ScalarAsync<long>("SELECT count(*) FROM sessions WHERE user_id = $1", gone.Id));
    }

    /// <summary>
    /// The per-address limit is decided before the body is read, so it cannot tell the grants apart: a refresh counts
    /// like a login (a client refreshes once per access token, so 120 a minute is thousands of clients behind one address).
    /// </summary>
    [Fact]
    public async Task TheRefreshGrantCountsTowardsThePerAddressRequestLimit()
    {
        await using var limited = new WinDiApp(postgres, new Dictionary<string, string?> { ["Limits:AuthRequestsPerMinutePerAddress"] = "3" });
        var email = $"limited.{Guid.NewGuid():N}@example.com";
        using var http = limited.Anonymous();
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/register", new { name = "Limited", email, password = "secret1" })).StatusCode);
        var tokens = await limited.NewSessionAsync(email, "secret1");
        var refreshed = await limited.RefreshAsync(tokens.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);

        var refused = await limited.RefreshAsync(Tokens.From(await refreshed.Content.ReadFromJsonAsync<JsonElement>()).RefreshToken);

        await refused.AssertProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.NotNull(refused.Headers.RetryAfter);
    }

    private static async Task AssertInvalidGrantAsync(HttpResponseMessage response)
    {
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal("invalid_grant", problem.GetProperty("error").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty("refresh_token", out _), problem.ToString());
    }

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Key, f.Value)));
}

/// <summary>Sessions across two replicas sharing Redis: an ended session's tokens and sockets stop on both within 5 s.</summary>
public sealed class SessionsAcrossReplicasTests(TwoReplicas replicas, PostgresServer postgres) : IClassFixture<TwoReplicas>
{
    /// <summary>
    /// Redis is down, so the other replica never hears of the logout; it finds out by asking the database
    /// (<see cref="WinDi.Api.Realtime.EndedSessionSweep"/>), and closes the socket within seconds, not at its token's expiry.
    /// </summary>
    [Fact]
    public async Task ASessionEndedWhileRedisIsDownHasItsSocketOnTheOtherReplicaClosedWithinSeconds()
    {
        await using var redis = await RedisServer.StartPrivateAsync();
        var (a, b) = await TwoReplicas.StartAsync(postgres, redis.ConnectionString);
        await using var replicaA = a;
        await using var replicaB = b;
        var ann = await a.RegisterAsync();
        var laptop = await a.NewSessionAsync(ann.Email, ann.Password);
        await using var onB = await WsClient.ConnectAsync(b, ann.Token);
        await using var laptopOnB = await WsClient.ConnectAsync(b, laptop.AccessToken);
        await redis.StopAsync();

        Assert.Equal(HttpStatusCode.NoContent, (await ann.Http.PostAsync("/logout", null)).StatusCode);

        await onB.Closed.WaitAsync(WinDi.Api.Realtime.EndedSessionSweep.Every + TimeSpan.FromSeconds(5));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, onB.CloseStatus);
        await laptopOnB.ExpectNothingPendingAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task LogoutOnOneReplicaRefusesTheTokenAndClosesTheSessionsSocketsWith1008OnBothWithin5Seconds()
    {
        var ann = await replicas.A.RegisterAsync();
        var laptop = await replicas.A.NewSessionAsync(ann.Email, ann.Password);
        await using var onA = await WsClient.ConnectAsync(replicas.A, ann.Token);
        await using var onB = await WsClient.ConnectAsync(replicas.B, ann.Token);
        await using var laptopOnB = await WsClient.ConnectAsync(replicas.B, laptop.AccessToken);
        using var viaB = replicas.B.Authorized(ann.Token);
        Assert.Equal(HttpStatusCode.OK, (await viaB.GetAsync("/users/me")).StatusCode); // B has it cached as allowed now

        var loggedOut = await ann.Http.PostAsync("/logout", null);
        var clock = Stopwatch.StartNew();

        Assert.Equal(HttpStatusCode.NoContent, loggedOut.StatusCode);
        await Task.WhenAll(onA.Closed, onB.Closed).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, onA.CloseStatus);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, onB.CloseStatus);
        foreach (var replica in new[] { replicas.A, replicas.B })
        {
            using var http = replica.Authorized(ann.Token);
            while ((await http.GetAsync("/users/me")).StatusCode != HttpStatusCode.Unauthorized)
            {
                Assert.True(clock.Elapsed < AccessCheck.FreshFor, $"Still accepted on {replica.BaseAddress} {clock.Elapsed} after logout.");
                await Task.Delay(100);
            }
        }
        await laptopOnB.ExpectNothingPendingAsync(TimeSpan.Zero);
    }

    /// <summary>
    /// A process that can reach Redis but knows neither Relay__Secret nor Jwt__Secret cannot close anyone's sockets:
    /// a notice tagged with another key is dropped (and logged); the same notice with the replicas' key closes them.
    /// </summary>
    [Fact]
    public async Task ASessionEndedNoticeNotWrittenWithTheRelayKeyClosesNoSocket()
    {
        var ann = await replicas.A.RegisterAsync();
        await using var onB = await WsClient.ConnectAsync(replicas.B, ann.Token);
        var jwt = new JwtOptions { Secret = WinDiApp.JwtSecret };
        var ended = new EndedSession(ann.Id, ann.SessionId());
        var channel = replicas.A.Services.GetRequiredService<IConnectionMultiplexer>().GetSubscriber();

        await channel.PublishAsync(RedisChannel.Literal(RedisRelay.SessionsChannelName),
            SessionEndedEnvelope.Encode(new RelayKey(new RelayOptions { Secret = "guessed" }, jwt), Guid.NewGuid(), ended));
        await channel.PublishAsync(RedisChannel.Literal(RedisRelay.SessionsChannelName), new byte[SessionEndedEnvelope.Length]);

        var clock = Stopwatch.StartNew();
        while (replicas.B.Logs.Count(line => line.Contains("Session-ended envelope failed authentication", StringComparison.Ordinal)) < 2)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "Replica B did not log the two notices it dropped.");
            await Task.Delay(50);
        }
        await onB.ExpectNothingPendingAsync(TimeSpan.Zero);
        await channel.PublishAsync(RedisChannel.Literal(RedisRelay.SessionsChannelName),
            SessionEndedEnvelope.Encode(new RelayKey(new RelayOptions(), jwt), Guid.NewGuid(), ended));
        await onB.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, onB.CloseStatus);
    }

    /// <summary>Without Redis's event, the other replica still refuses the token once its cached answer ages (5 s).</summary>
    [Fact]
    public async Task ARevokedSessionsTokenIsRefusedOnTheOtherReplicaWithin5SecondsEvenIfItHearsNothing()
    {
        var ann = await replicas.A.RegisterAsync();
        using var viaB = replicas.B.Authorized(ann.Token);
        Assert.Equal(HttpStatusCode.OK, (await viaB.GetAsync("/users/me")).StatusCode);

        // Behind the API's back, as a revocation whose event was lost would be.
        await replicas.A.Postgres.ExecuteAsync("UPDATE sessions SET revoked_at = now() WHERE id = $1", ann.SessionId());
        var clock = Stopwatch.StartNew();

        while ((await viaB.GetAsync("/users/me")).StatusCode != HttpStatusCode.Unauthorized)
        {
            Assert.True(clock.Elapsed < AccessCheck.FreshFor + TimeSpan.FromSeconds(1), $"Still accepted {clock.Elapsed} after the revocation.");
            await Task.Delay(100);
        }
    }
}

internal static class SessionCalls
{
    /// <summary>The session of the user's own token (the login <see cref="WinDiApp.RegisterAsync"/> made).</summary>
    public static Guid SessionId(this TestUser user) => new Tokens(user.Token, user.RefreshToken, 0, 0).SessionId;
}
