using WinDi.Api.Data;
using WinDi.MigrationWorker;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.AddWinDiDatabase();
builder.Services.AddOptions<MigrationOptions>().Configure<IConfiguration>((options, configuration) => configuration.Bind(options));
builder.Services.AddSingleton<DatabaseMigrator>();
builder.Services.AddHostedService<MigrationService>();

builder.Build().Run();
