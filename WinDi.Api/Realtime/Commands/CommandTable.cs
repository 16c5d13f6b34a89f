namespace WinDi.Api.Realtime.Commands;

/// <summary>Every command the WebSocket understands; the dispatcher looks them up by <see cref="ICommand.Name"/>.</summary>
public static class CommandTable
{
    public static IServiceCollection AddCommands(this IServiceCollection services)
    {
        services.AddSingleton<ICommand, SendMessage>();
        services.AddSingleton<ICommand, ReadMessage>();
        services.AddSingleton<ICommand, EditMessage>();
        services.AddSingleton<ICommand, DeleteMessage>();
        services.AddSingleton<ICommand, Sync>();
        services.AddSingleton<ICommand, Ping>();
        services.AddSingleton<ICommand, Typing>();
        return services;
    }
}
