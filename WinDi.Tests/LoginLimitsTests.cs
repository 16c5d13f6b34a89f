using Microsoft.Extensions.DependencyInjection;
using WinDi.Api.Auth;

namespace WinDi.Tests;

/// <summary>
/// DESIGN §6: the failed-login limit holds under parallel guesses and cannot be turned against the owner; /token and
/// /register are limited per client address. Other client addresses are other loopback addresses (127.0.0.2).
/// </summary>
public sealed class LoginLimitsTests(PostgresServer postgres, RedisServer redis)
{
    private const int FailedLoginsPerMinute = 10;
    private static readonly IPAddress OwnersAddress = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task ThreeHundredConcurrentWrongPasswordsGetAtMostTheLimitOf401sAndTheOwnerStillLogsInFromAnotherAddress()
    {
        await using var app = new WinDiApp(postgres);
        var owner = await app.RegisterAsync();
        using var attacker = app.Anonymous();

        var answers = await GuessAsync(attacker, owner, 300);

        Assert.Equal(FailedLoginsPerMinute, answers.Count(answer => answer.StatusCode == HttpStatusCode.Unauthorized));
        await AssertAllTooManyAsync(answers.Where(answer => answer.StatusCode != HttpStatusCode.Unauthorized));
        using var fromHome = app.AnonymousFrom(OwnersAddress);
        Assert.Equal(HttpStatusCode.OK, (await fromHome.PostAsync("/token", Form(owner.Email, owner.Password))).StatusCode);
        await (await attacker.PostAsync("/token", Form(owner.Email, owner.Password))).AssertProblemAsync(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ReplicasSharingRedisShareTheCountSoThreeHundredGuessesSplitOverTwoGetAtMostTheLimitOf401s()
    {
        await using var replicas = await ReplicasWithAnOwnerAsync(redis.ConnectionString);
        var (a, b, owner) = replicas;
        using var attackerOnA = a.Anonymous();
        using var attackerOnB = b.Anonymous();

        var answers = (await Task.WhenAll(GuessAsync(attackerOnA, owner, 150), GuessAsync(attackerOnB, owner, 150))).SelectMany(x => x).ToList();

        Assert.Equal(FailedLoginsPerMinute, answers.Count(answer => answer.StatusCode == HttpStatusCode.Unauthorized));
        await AssertAllTooManyAsync(answers.Where(answer => answer.StatusCode != HttpStatusCode.Unauthorized));
        using var fromHomeOnB = b.AnonymousFrom(OwnersAddress);
        Assert.Equal(HttpStatusCode.OK, (await fromHomeOnB.PostAsync("/token", Form(owner.Email, owner.Password))).StatusCode);
    }

    [Fact]
    public async Task WhileRedisIsDownLoginsWorkAndFailedLoginsAreStillLimitedPerReplica()
    {
        await using var privateRedis = await RedisServer.StartPrivateAsync();
        await using var replicas = await ReplicasWithAnOwnerAsync(privateRedis.ConnectionString);
        var (a, b, owner) = replicas;
        using var attackerOnA = a.Anonymous();
        using var attackerOnB = b.Anonymous();
        var beforeTheOutage = await GuessAsync(attackerOnA, owner, 4);
        Assert.All(beforeTheOutage, answer => Assert.Equal(HttpStatusCode.Unauthorized, answer.StatusCode));

        await privateRedis.StopAsync();
        var onA = await GuessAsync(attackerOnA, owner, 30);
        var onB = await GuessAsync(attackerOnB, owner, 30);

        // A still counts the 4 it saw before the outage; B counts alone.
        Assert.Equal(FailedLoginsPerMinute - 4, onA.Count(answer => answer.StatusCode == HttpStatusCode.Unauthorized));
        Assert.Equal(FailedLoginsPerMinute, onB.Count(answer => answer.StatusCode == HttpStatusCode.Unauthorized));
        await AssertAllTooManyAsync(onA.Concat(onB).Where(answer => answer.StatusCode != HttpStatusCode.Unauthorized));
        foreach (var replica in new[] { a, b })
        {
            using var fromHome = replica.AnonymousFrom(OwnersAddress);
            Assert.Equal(HttpStatusCode.OK, (await fromHome.PostAsync("/token", Form(owner.Email, owner.Password))).StatusCode);
        }
        Assert.Single(a.Logs, line => line.Contains("Redis is unreachable: failed logins are counted by each replica alone", StringComparison.Ordinal));
    }

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

    [Theory]
    [InlineData(255)]
    [InlineData(60_000)]
    public async Task AUsernameLongerThanAnEmailCanBeIsRefusedBeforeAnythingIsCounted(int length)
    {
        await using var app = new WinDiApp(postgres);
        using var http = app.Anonymous();
        var counters = app.Services.GetRequiredService<LoginThrottle>().Local;
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/token", Form($"nobody.{Guid.NewGuid():N}@example.com", "guess"))).StatusCode);
        Assert.Equal(1, counters.Count);

        var response = await http.PostAsync("/token", Form(new string('a', length - "@example.com".Length) + "@example.com", "guess"));

        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("username", out _), problem.ToString());
        Assert.Equal(1, counters.Count);
    }

    [Fact]
    public void AReplicasCountersNeverHoldMorePairsThanTheirCapacityAndForgetEndedWindows()
    {
        var clock = new ManualClock();
        var counters = new LocalFailureCounts(limit: 2, TimeSpan.FromMinutes(1), capacity: 100, clock);
        static LoginKey Pair(int i) => new((UInt128)i, 1);

        var verdicts = Enumerable.Range(0, 150).Select(i => counters.TryReserve(Pair(i)).Verdict).ToList();

        Assert.Equal(100, verdicts.Count(v => v == CountVerdict.Reserved));
        Assert.All(verdicts.Skip(100), v => Assert.Equal(CountVerdict.Full, v));
        Assert.Equal(100, counters.Count);
        Assert.Equal(CountVerdict.Reserved, counters.TryReserve(Pair(0)).Verdict);
        var (refused, retryAfter) = counters.TryReserve(Pair(0));
        Assert.Equal(CountVerdict.Refused, refused);
        Assert.Equal(TimeSpan.FromMinutes(1), retryAfter);

        clock.Advance(TimeSpan.FromSeconds(61));

        Assert.Equal(CountVerdict.Reserved, counters.TryReserve(Pair(1000)).Verdict);
        Assert.Equal(1, counters.Count);
    }

    private async Task<Replicas> ReplicasWithAnOwnerAsync(string redisConnectionString)
    {
        var (a, b) = await TwoReplicas.StartAsync(postgres, redisConnectionString);
        var replicas = new Replicas(a, b, null!);
        try
        {
            return replicas with { Owner = await a.RegisterAsync() };
        }
        catch
        {
            await replicas.DisposeAsync();
            throw;
        }
    }

    /// <summary>Two replicas sharing one Redis, and the person whose password is being guessed.</summary>
    private sealed record Replicas(WinDiApp A, WinDiApp B, TestUser Owner) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await A.DisposeAsync();
            await B.DisposeAsync();
        }
    }

    private static async Task<HttpResponseMessage[]> GuessAsync(HttpClient attacker, TestUser owner, int count) =>
        await Task.WhenAll(Enumerable.Range(0, count).Select(i => attacker.PostAsync("/token", Form(owner.Email, $"guess {Guid.NewGuid():N}"))));

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

    /// <summary>A clock that moves only when told to.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => ticks;
        public void Advance(TimeSpan by) => ticks += by.Ticks;
    }
}
