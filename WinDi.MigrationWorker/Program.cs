using WinDi.Api.Data;

namespace WinDi.MigrationWorker;

// A named entry class rather than top-level statements: the tests reference both this worker and the
// API, and two generated public "Program" classes would collide.
public static class MigrationWorkerProgram
{
    public static void Main(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });

        builder.AddServiceDefaults();
        builder.AddWinDiDatabase();
        builder.Services.AddOptions<MigrationOptions>().Configure<IConfiguration>((options, configuration) => configuration.Bind(options));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddHostedService<MigrationService>();

        builder.Build().Run();
    }
}
