using Microsoft.Extensions.DependencyInjection;
using WinDi.Api.Realtime;

namespace WinDi.Tests.Infrastructure;

/// <summary>Two API replicas on their own ports, one PostgreSQL, one Redis: the scale-out of DESIGN §5.</summary>
public sealed class TwoReplicas(PostgresServer postgres, RedisServer redis) : IAsyncLifetime
{
    public WinDiApp A { get; private set; } = null!;
    public WinDiApp B { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        (A, B) = await StartAsync(postgres, redis.ConnectionString);
    }

    public static async Task<(WinDiApp A, WinDiApp B)> StartAsync(
        PostgresServer postgres, string redisConnectionString, IReadOnlyDictionary<string, string?>? extraSettings = null)
    {
        var settings = new Dictionary<string, string?>(extraSettings ?? new Dictionary<string, string?>()) { ["ConnectionStrings:redis"] = redisConnectionString };
        var a = new WinDiApp(postgres, settings);
        var b = new WinDiApp(postgres, settings);
        await WhenSubscribedAsync(a);
        await WhenSubscribedAsync(b);
        return (a, b);
    }

    public static Task WhenSubscribedAsync(WinDiApp app) =>
        app.Services.GetRequiredService<RedisRelay>().Subscribed.WaitAsync(TimeSpan.FromSeconds(15));

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
    }
}

public static class ReplicaCalls
{
    /// <summary>The same person, logged in on another replica (tokens are valid on every replica).</summary>
    public static TestUser On(this TestUser user, WinDiApp replica) => user with { Http = replica.Authorized(user.Token), App = replica };
}
