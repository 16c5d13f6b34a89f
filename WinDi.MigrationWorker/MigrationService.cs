using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace WinDi.MigrationWorker;

/// <summary>Runs the migrator once, then stops the host: exit code 0 on success, 1 on failure (so WaitForCompletion holds the API back).</summary>
internal sealed partial class MigrationService(
    DatabaseMigrator migrator, IOptions<MigrationOptions> options, IHostEnvironment environment,
    IHostApplicationLifetime lifetime, ILogger<MigrationService> logger) : BackgroundService
{
    public static readonly ActivitySource Source = new("WinDi.MigrationWorker");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var activity = Source.StartActivity("Migrating database", ActivityKind.Client);
        try
        {
            var seed = options.Value.Seed.TestData ?? environment.IsDevelopment();
            await migrator.RunAsync(seed, TimeSpan.FromSeconds(options.Value.Migrations.DatabaseWaitSeconds), stoppingToken);
        }
        catch (Exception e)
        {
            activity?.AddException(e);
            Log.Failed(logger, e);
            Environment.ExitCode = 1;
        }
        lifetime.StopApplication();
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Critical, Message = "Migration failed; the database was left as the failed step found it")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
