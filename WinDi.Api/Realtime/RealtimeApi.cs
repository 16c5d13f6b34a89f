using System.Net.WebSockets;
using Microsoft.AspNetCore.Http.Features;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using WinDi.Api.Auth;
using WinDi.Api.Realtime.Commands;

namespace WinDi.Api.Realtime;

public static partial class RealtimeApi
{
    public const string Path = "/ws";
    public const string TokenRouteValue = "token";
    public const string TokenQueryParameter = "access_token";

    /// <summary>
    /// The gateway and its relay: Redis pub/sub when ConnectionStrings:redis is set (several replicas),
    /// otherwise in-process (a single node).
    /// </summary>
    public static IHostApplicationBuilder AddRealtime(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ConnectionRegistry>();
        builder.Services.AddSingleton<ConnectionSlots>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ConnectionSlots>());
        // Presence (online from the connection leases, users.last_seen) and the TYPING window.
        builder.Services.AddSingleton<Presence>();
        builder.Services.AddOptions<LastSeenOptions>();
        builder.Services.AddSingleton<LastSeen>();
        builder.Services.AddHostedService(services => services.GetRequiredService<LastSeen>());
        builder.Services.AddSingleton<TypingThrottle>();
        // A connection that stops answering pings (half-open: the client's machine or network is gone) is
        // aborted, within KeepAliveInterval + KeepAliveTimeout. An upgrade request whose headers never finish
        // is dropped by Kestrel's RequestHeadersTimeout (Kestrel:Limits:RequestHeadersTimeout, 30 s).
        builder.Services.Configure<WebSocketOptions>(options =>
        {
            options.KeepAliveInterval = TimeSpan.FromSeconds(20);
            options.KeepAliveTimeout = TimeSpan.FromSeconds(20);
        });
        builder.Services.AddHostedService<ExpiredTokenSweep>();
        builder.Services.AddSingleton<FrameDispatcher>();
        builder.Services.AddCommands();
        if (builder.AddRedis())
        {
            builder.Services.AddOptions<RelayOptions>().BindConfiguration(RelayOptions.Section);
            builder.Services.AddSingleton(services => new RelayKey(
                services.GetRequiredService<IOptions<RelayOptions>>().Value, services.GetRequiredService<IOptions<JwtOptions>>().Value));
            builder.Services.AddSingleton<RedisRelay>();
            builder.Services.AddSingleton<IEventRelay>(services => services.GetRequiredService<RedisRelay>());
            builder.Services.AddHostedService(services => services.GetRequiredService<RedisRelay>());
            // The other replicas' sockets of a session whose notice Redis lost still close within seconds.
            builder.Services.AddHostedService<EndedSessionSweep>();
        }
        else
        {
            builder.Services.AddSingleton<IEventRelay, InProcessRelay>();
        }
        return builder;
    }

    /// <summary>Before UseWebSockets: every accepted WebSocket then writes its queued frames in batches (<see cref="BatchingStream"/>).</summary>
    public static IApplicationBuilder UseBatchedWebSocketWrites(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        BatchingStream.Install(http);
        return next(http);
    });

    /// <summary>
    /// GET /ws/{token} (as in the original task) and GET /ws?access_token= (browsers). The token is read by
    /// the JWT bearer handler (see AuthExtensions), so a bad token is refused with 401 before the upgrade.
    /// </summary>
    public static IEndpointRouteBuilder MapRealtime(this IEndpointRouteBuilder routes)
    {
        var ws = routes.MapGroup(Path).WithTags("Realtime").RequireAuthorization().ExcludeFromDescription();
        ws.MapGet("/", Connect);
        ws.MapGet($"/{{{TokenRouteValue}}}", Connect);
        return routes;
    }

    private static async Task<IResult> Connect(
        HttpContext http, CurrentUser me, ConnectionSlots slots, LastSeen lastSeen, FrameDispatcher frames,
        IOptions<LimitsOptions> limits, IHostApplicationLifetime lifetime, ILogger<ClientConnection> logger)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            return Problems.BadRequest("This endpoint speaks WebSocket only: send an Upgrade request.");
        }

        // Registered before the upgrade completes: once the client sees the handshake succeed, it gets every
        // event committed after that (events of the last moments wait in the connection's queue).
        await using var connection = new ClientConnection(me.Id, me.SessionId, TokenExpiresAt(http), limits.Value, logger);
        var seen = lastSeen.RecordAsync(me.Id); // written (or given up on) by the handshake; meanwhile the slot is taken
        if (!await slots.TryOpenAsync(connection))
        {
            return TypedResults.Problem($"You have {limits.Value.ConnectionsPerUser} connections open already; close one first.",
                statusCode: StatusCodes.Status429TooManyRequests);
        }
        try
        {
            await LastSeen.WrittenAsync(seen);
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            ForgetToken(http);
            Log.Connected(logger, connection.Id, me.Id);
            // Not linked to http.RequestAborted: a client that goes away (or a connection Kestrel aborts) fails the
            // socket's read anyway, and a linked token source would be one more held by every idle connection.
            await connection.RunAsync(socket, BatchingStream.Of(http), frames, lifetime.ApplicationStopping);
        }
        finally
        {
            // Written before the slot is given back: whoever sees the user offline sees when they left.
            await LastSeen.WrittenAsync(lastSeen.RecordAsync(me.Id));
            slots.Close(connection);
            Log.Disconnected(logger, connection.Id, me.Id);
        }
        return Results.Empty;
    }

    /// <summary>
    /// The principal an upgrade request keeps for the life of its socket (the authentication handler holds it until the
    /// request ends): the claims the connection reads, and no more. The principal made from the token also references
    /// the parsed token (its encoded parts, header and payload) and every claim: 2.9 KB of live heap an idle connection.
    /// </summary>
    internal static ClaimsPrincipal ConnectionPrincipal(ClaimsPrincipal validated)
    {
        var kept = validated.Claims
            .Where(claim => claim.Type is JwtRegisteredClaimNames.Sub or JwtRegisteredClaimNames.Sid or JwtRegisteredClaimNames.Exp)
            .Select(claim => new Claim(claim.Type, claim.Value, claim.ValueType, claim.Issuer));
        return new ClaimsPrincipal(new ClaimsIdentity(kept, validated.Identity?.AuthenticationType));
    }

    /// <summary>
    /// The upgrade request lives as long as its socket, and its token (read from the path or the query) with it, in
    /// several copies: the request target, the path or the query string, the parsed query and the route value, each
    /// about 0.7 KB. Once the socket is open, the connection needs only what was read from the token (user, session,
    /// expiry), so the request keeps its path without the token.
    /// </summary>
    internal static void ForgetToken(HttpContext http)
    {
        http.Request.Query = QueryCollection.Empty; // the query string too
        http.Request.RouteValues.Remove(TokenRouteValue);
        http.Request.Path = Path;
        if (http.Features.Get<IHttpRequestFeature>() is { } request)
        {
            request.RawTarget = Path;
        }
    }

    /// <summary>The token's expiry (Unix seconds), which <see cref="ExpiredTokenSweep"/> closes the connection at.</summary>
    private static long TokenExpiresAt(HttpContext http) =>
        long.TryParse(http.User.FindFirst(JwtRegisteredClaimNames.Exp)?.Value, out var exp) ? exp : long.MaxValue;

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} opened for user {UserId}")]
        public static partial void Connected(ILogger logger, Guid connectionId, long userId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} of user {UserId} closed")]
        public static partial void Disconnected(ILogger logger, Guid connectionId, long userId);
    }
}
