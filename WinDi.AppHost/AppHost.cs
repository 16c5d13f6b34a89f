var builder = DistributedApplication.CreateBuilder(args);

var postgres = builder.AddPostgres("postgres").WithDataVolume();
var database = postgres.AddDatabase("windi");

var redis = builder.AddRedis("redis");

var jwtSecret = builder.AddParameter("jwt-secret", secret: true)
    .WithDescription("HMAC key that signs access tokens, at least 32 bytes. Every API replica gets the same one.");

var migrations = builder.AddProject<Projects.WinDi_MigrationWorker>("migrations")
    .WithReference(database)
    .WaitFor(database)
    .WithEnvironment("Seed__TestData", "true");

// The http endpoint comes from the API's launch profile (port 8000). With replicas that port belongs to
// the DCP proxy and each replica listens on a port of its own: never pin a TargetPort or turn the proxy
// off here, Aspire refuses both when there is more than one replica.
builder.AddProject<Projects.WinDi_Api>("api")
    .WithReplicas(2)
    .WithReference(database)
    .WithReference(redis)
    .WithEnvironment("Jwt__Secret", jwtSecret)
    .WaitForCompletion(migrations)
    .WaitFor(redis)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

builder.Build().Run();
