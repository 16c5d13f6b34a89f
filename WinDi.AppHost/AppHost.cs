using WinDi.AppHost;

var builder = DistributedApplication.CreateBuilder(args);

// PostgreSQL and Redis: containers, local server processes, or servers you name (see Infrastructure.cs).
var infrastructure = Infrastructure.Choose(builder);
var database = infrastructure.AddDatabase(builder);
var redis = infrastructure.AddRedis(builder);

// Generated on the first run and kept in the AppHost's user secrets; a value in Parameters:jwt-secret wins.
var jwtSecret = builder.AddParameter("jwt-secret", new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true, persist: true)
    .WithDescription("HMAC key that signs access tokens, at least 32 bytes. Every API replica gets the same one.");

// Services read only ConnectionStrings__* (the keys of DESIGN §2): no WINDI_PASSWORD-style connection
// properties, which would put passwords in more variables than needed, and in the dashboard.
var migrations = builder.AddProject<Projects.WinDi_MigrationWorker>("migrations")
    .WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.ConnectionString)
    .WithReference(database)
    .WaitFor(database)
    .WithEnvironment("Seed__TestData", "true");

// The http endpoint comes from the API's launch profile (port 8000). With replicas that port belongs to
// the DCP proxy and each replica listens on a port of its own: never pin a TargetPort or turn the proxy
// off here, Aspire refuses both when there is more than one replica.
builder.AddProject<Projects.WinDi_Api>("api")
    .WithReplicas(2)
    .WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.ConnectionString)
    .WithReference(database)
    .WithReference(redis)
    .WithEnvironment("Jwt__Secret", jwtSecret)
    .WaitForCompletion(migrations)
    .WaitFor(redis)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

builder.Build().Run();

/// <summary>Internal, so that a test project referencing both the AppHost and the API sees one public Program.</summary>
internal partial class Program;
