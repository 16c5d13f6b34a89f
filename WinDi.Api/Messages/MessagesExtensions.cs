namespace WinDi.Api.Messages;

public static class MessagesExtensions
{
    /// <summary>Storing messages (the group-committing writer) and read receipts; history is mapped by <see cref="HistoryApi"/>.</summary>
    public static IServiceCollection AddMessages(this IServiceCollection services)
    {
        services.AddSingleton<MessageWriter>();
        services.AddSingleton<ReadReceipts>();
        return services;
    }
}
