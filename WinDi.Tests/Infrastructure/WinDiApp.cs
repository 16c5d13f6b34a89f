using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace WinDi.Tests.Infrastructure;

/// <summary>
/// The real API on real Kestrel (loopback, a free port) against the test PostgreSQL, configured only
/// through the keys of DESIGN §2. Extra settings (limits) make a separate instance.
/// </summary>
public class WinDiApp : WebApplicationFactory<Program>
{
    public const string JwtSecret = "windi-tests-secret-0123456789-abcdefghijklmnop";

    private readonly PostgresServer postgres;
    private readonly IReadOnlyDictionary<string, string?> settings;
    private readonly Action<IServiceCollection>? configureServices;

    public WinDiApp(PostgresServer postgres, IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? configureServices = null)
    {
        this.postgres = postgres;
        this.settings = settings ?? new Dictionary<string, string?>();
        this.configureServices = configureServices;
        UseKestrel(0);
        StartServer();
        BaseAddress = ClientOptions.BaseAddress;
    }

    public Uri BaseAddress { get; }

    public PostgresServer Postgres => postgres;

    /// <summary>Every log line the API wrote, formatted, at the levels its configuration lets through.</summary>
    public ConcurrentQueue<string> Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("ConnectionStrings:windi", postgres.ConnectionString);
        builder.UseSetting("Jwt:Secret", JwtSecret);
        builder.UseSetting("Limits:SendPerSecond", "1000");
        builder.UseSetting("Limits:SendBurst", "1000");
        // Every test client is 127.0.0.1, and suites register hundreds of people a minute; the tests of this limit set their own.
        builder.UseSetting("Limits:AuthRequestsPerMinutePerAddress", "1000000");
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
        if (configureServices is not null)
        {
            builder.ConfigureServices(configureServices);
        }
        builder.ConfigureLogging(logging => logging.ClearProviders().AddProvider(new CapturingLoggerProvider(Logs)));
    }

    /// <summary>
    /// Builds one host at a time across the test run. With minimal hosting, the factory's deferred builder runs
    /// Program on another thread and starts the host while building it (dotnet/aspnetcore#38335); builds running
    /// in parallel test classes then race, and one factory can find its server already started
    /// ("Addresses cannot be modified after the server has started"). A build takes a fraction of a second.
    /// </summary>
    protected override IHost CreateHost(IHostBuilder builder)
    {
        lock (HostCreation)
        {
            return base.CreateHost(builder);
        }
    }

    private static readonly Lock HostCreation = new();

    public HttpClient Anonymous() => new() { BaseAddress = BaseAddress };

    /// <summary>
    /// An anonymous client whose connections come from <paramref name="from"/>, so that the API sees another client
    /// address: on Linux every 127.x.y.z is loopback, and a socket bound to 127.0.0.2 reaches the API on 127.0.0.1.
    /// </summary>
    public HttpClient AnonymousFrom(IPAddress from)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(from.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(from, 0));
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = BaseAddress };
    }

    public HttpClient Authorized(string token)
    {
        var client = Anonymous();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>Registers a new person with a unique email and logs them in through POST /token.</summary>
    public async Task<TestUser> RegisterAsync(string? name = null)
    {
        var email = $"user.{Guid.NewGuid():N}@example.com";
        const string password = "correct horse battery";
        using var anonymous = Anonymous();
        var registered = await anonymous.PostAsJsonAsync("/register", new { name = name ?? "Test Person", email, password });
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        var id = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var tokens = await NewSessionAsync(email, password);
        return new TestUser(id, name ?? "Test Person", email, password, tokens.AccessToken, Authorized(tokens.AccessToken), this, tokens.RefreshToken);
    }

    public async Task<string> LoginAsync(string email, string password) => (await NewSessionAsync(email, password)).AccessToken;

    /// <summary>Logs in through POST /token (the password grant): a new session.</summary>
    public async Task<Tokens> NewSessionAsync(string email, string password)
    {
        using var anonymous = Anonymous();
        var response = await anonymous.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = email, ["password"] = password }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Tokens.From(await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    /// <summary>The refresh grant of POST /token, as it answers.</summary>
    public async Task<HttpResponseMessage> RefreshAsync(string refreshToken)
    {
        using var anonymous = Anonymous();
        return await anonymous.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = refreshToken,
        }));
    }

    public Uri WebSocketUri(string pathAndQuery) => new UriBuilder(BaseAddress) { Scheme = "ws", Path = "" }.Uri is var root
        ? new Uri(root, pathAndQuery)
        : throw new InvalidOperationException();

    /// <summary>
    /// Records every log line with the scopes it was written in (as OpenTelemetry's IncludeScopes and a console
    /// formatter with scopes export them), so that a secret carried by a scope is seen too.
    /// </summary>
    private sealed class CapturingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider scopes = new LoggerExternalScopeProvider();

        public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, lines, this);
        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;
        public void Dispose() { }

        private sealed class CapturingLogger(string category, ConcurrentQueue<string> lines, CapturingLoggerProvider provider) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider.scopes.Push(state);
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var line = new System.Text.StringBuilder($"{logLevel} {category}: {formatter(state, exception)} {state} {exception}");
                provider.scopes.ForEachScope(static (scope, text) =>
                {
                    text.Append(" => ").Append(scope);
                    if (scope is IEnumerable<KeyValuePair<string, object?>> values)
                    {
                        foreach (var (key, value) in values)
                        {
                            text.Append(' ').Append(key).Append('=').Append(value);
                        }
                    }
                }, line);
                lines.Enqueue(line.ToString());
                if (logLevel >= LogLevel.Error)
                {
                    // Shown with the failing test's output, so a CI failure explains itself.
                    Console.Error.WriteLine(line);
                }
            }
        }
    }
}

/// <summary>The shared API instance for tests that need no special limits.</summary>
public sealed class SharedApp(PostgresServer postgres) : IAsyncLifetime
{
    public WinDiApp App { get; private set; } = null!;

    public ValueTask InitializeAsync()
    {
        App = new WinDiApp(postgres);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await App.DisposeAsync();
}

/// <summary>What POST /token answers with: an access token and the refresh token of its session.</summary>
public sealed record Tokens(string AccessToken, string RefreshToken, int ExpiresIn, int RefreshExpiresIn)
{
    public static Tokens From(JsonElement body) => new(
        body.GetProperty("access_token").GetString()!, body.GetProperty("refresh_token").GetString()!,
        body.GetProperty("expires_in").GetInt32(), body.GetProperty("refresh_expires_in").GetInt32());

    /// <summary>The session id in the access token's <c>sid</c> claim.</summary>
    public Guid SessionId => Guid.Parse(new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(AccessToken).GetClaim("sid").Value);
}

/// <param name="RefreshToken">The refresh token of the session <see cref="Token"/> belongs to.</param>
public sealed record TestUser(long Id, string Name, string Email, string Password, string Token, HttpClient Http, WinDiApp App, string RefreshToken = "")
{
    public Task<WsClient> ConnectAsync() => WsClient.ConnectAsync(App, Token);
}
