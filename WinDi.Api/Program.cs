using System.Text.Json;
using OpenTelemetry.Instrumentation.AspNetCore;
using Scalar.AspNetCore;
using WinDi.Api;
using WinDi.Api.Auth;
using WinDi.Api.Chats;
using WinDi.Api.Data;
using WinDi.Api.Messages;
using WinDi.Api.Realtime;
using WinDi.Api.Users;

var builder = WebApplication.CreateBuilder(args);

// Aspire service defaults: OpenTelemetry, /health and /alive, service discovery, HTTP resilience.
builder.AddServiceDefaults();
builder.Services.AddOpenTelemetry()
    .WithTracing(tracing => tracing.AddSource(Telemetry.Name))
    .WithMetrics(metrics => metrics.AddMeter(Telemetry.Name));
builder.Services.Configure<AspNetCoreTraceInstrumentationOptions>(options => options.EnrichWithHttpRequest = TokenRedaction.RedactTrace);
TokenRedaction.KeepTokensOutOfLogs(builder.Logging);

// PostgreSQL through EF Core (ConnectionStrings__windi).
builder.AddWinDiDatabase();

// JSON in snake_case; every error a problem document.
builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
builder.Services.AddWinDiProblemDetails();
// Kestrel's limits, overridable under Kestrel:Limits (e.g. RequestHeadersTimeout, which also drops an upgrade
// request that never finishes).
builder.WebHost.ConfigureKestrel((context, kestrel) =>
{
    kestrel.Limits.MaxRequestBodySize = 64 * 1024;
    context.Configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits);
});

// Limits, JWT authentication, the WebSocket gateway (relayed over Redis when ConnectionStrings__redis is set).
builder.Services.AddOptions<LimitsOptions>().BindConfiguration(LimitsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddWinDiAuth();
builder.Services.AddMessages();
builder.AddRealtime();

// API docs: /openapi/v1.json, /scalar, /docs.
builder.Services.AddOpenApi(options => options
    .AddDocumentTransformer<OpenApiBearerScheme>()
    .AddOperationTransformer<OpenApiBearerScheme>());

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseBatchedWebSocketWrites();
app.UseWebSockets();
// The web client (wwwroot/) at /.
app.UseWebClient();
app.UseAuthentication();
app.UseAuthorization();
// Limits__AuthRequestsPerMinutePerAddress on /token and /register (AuthRequestLimit).
app.UseRateLimiter();

app.MapDefaultEndpoints();
app.MapOpenApi();
app.MapScalarApiReference();
app.MapGet("/docs", () => Results.Redirect("/scalar")).ExcludeFromDescription();

app.MapAuth();
app.MapSessions();
app.MapUsers();
app.MapChats();
app.MapHistory();
app.MapRealtime();

app.Run();

/// <summary>The entry point, public so that tests can host the API with WebApplicationFactory.</summary>
public partial class Program;
