using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using WinDi.Api.Data;

namespace WinDi.Api.Chats;

/// <summary>
/// Endpoints put the membership condition in their own query. When that finds nothing, this says why:
/// 404 when the chat does not exist, 403 when the caller is not in it.
/// </summary>
public static class ChatAccess
{
    public static async Task<ProblemHttpResult> DeniedAsync(WinDiDb db, long chatId, CancellationToken ct) =>
        Denied(await db.Chats.AnyAsync(c => c.Id == chatId, ct));

    /// <summary>The same answers, for a query that found out itself whether the chat exists.</summary>
    public static ProblemHttpResult Denied(bool chatExists) =>
        chatExists ? Problems.Forbidden(Problems.NotAMember) : Problems.NotFound(Problems.NoSuchChat);

    /// <summary>The chat's members, in one indexed query; null when there is no such chat.</summary>
    public static async Task<long[]?> MembersAsync(NpgsqlDataSource dataSource, long chatId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT ARRAY(SELECT user_id FROM chat_members WHERE chat_id = $1) FROM chats WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = chatId });
        return await command.ExecuteScalarAsync(ct) as long[];
    }

    /// <summary>Declares in OpenAPI the two answers of <see cref="DeniedAsync"/>.</summary>
    public static RouteHandlerBuilder ProducesAccessProblems(this RouteHandlerBuilder endpoint) => endpoint
        .ProducesProblem(StatusCodes.Status403Forbidden)
        .ProducesProblem(StatusCodes.Status404NotFound);
}
