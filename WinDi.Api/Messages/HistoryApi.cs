using System.ComponentModel;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using NpgsqlTypes;
using WinDi.Api.Auth;
using WinDi.Api.Chats;

namespace WinDi.Api.Messages;

public static class HistoryApi
{
    public const int MaxPageSize = 100;

    public static RouteGroupBuilder MapHistory(this IEndpointRouteBuilder routes)
    {
        var history = routes.MapGroup("/history").WithTags("Messages").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        history.MapGet("/{chatId:long}", GetHistory)
            .WithSummary("A page of a chat's messages, oldest first")
            .WithDescription("Offset paging, as in the original: messages in ascending order, offset skips that many from the oldest " +
                "(limit=50&offset=0 is the first 50 messages ever sent; no paging parameter means offset=0, limit=100). " +
                "latest=true gives the newest page instead. Keyset paging instead of offset: before_id=X gives the limit messages " +
                "just older than X, after_id=X those just newer. latest cannot be combined with offset or after_id; with before_id " +
                "it changes nothing.")
            .ProducesAccessProblems();
        return history;
    }

    private static async Task<Results<Ok<List<MessageDto>>, ValidationProblem, ProblemHttpResult>> GetHistory(
        long chatId, CurrentUser me, NpgsqlDataSource dataSource, CancellationToken ct,
        [Description("Page size, 1 to 100.")] int limit = MaxPageSize,
        [Description("Messages to skip, counted from the oldest (0 is the first page ever sent).")] int? offset = null,
        [Description("true: the newest page (the limit most recent messages, still oldest first).")] bool latest = false,
        [FromQuery(Name = "before_id"), Description("Keyset: the limit messages just older than this message id.")] long? beforeId = null,
        [FromQuery(Name = "after_id"), Description("Keyset: the limit messages just newer than this message id.")] long? afterId = null)
    {
        var errors = new RequestErrors();
        if (limit is < 1 or > MaxPageSize) errors.Add("limit", $"limit must be between 1 and {MaxPageSize}.");
        if (offset < 0) errors.Add("offset", "offset must be 0 or more.");
        if (beforeId is not null && afterId is not null) errors.Add("before_id", "Give before_id or after_id, not both.");
        if (offset is not null && (beforeId is not null || afterId is not null)) errors.Add("offset", "offset cannot be combined with before_id or after_id.");
        if (latest && offset is not null) errors.Add("latest", "latest=true (the newest page) cannot be combined with offset, which counts from the oldest message.");
        if (latest && afterId is not null) errors.Add("latest", "latest=true (the newest page) cannot be combined with after_id.");
        if (beforeId < 1) errors.Add("before_id", "before_id must be a message id (1 or more).");
        if (afterId < 0) errors.Add("after_id", "after_id must be 0 or more.");
        if (errors.Any)
        {
            return errors.ToResult();
        }

        // Ids are the chat's time order (README "Order"), and every page is returned ascending by id. A deleted
        // message is in no page (offsets count the messages that are there), an edited one has its latest text.
        // The newest page, or the one just older than before_id, is read newest first; after_id and offset paging
        // (counted from the oldest message, offset=0 when neither is given) oldest first. latest is before_id = ∞, and
        // offset paging after_id = 0 (ids start at 1).
        var newestFirst = latest || beforeId is not null;
        var cursor = newestFirst ? beforeId ?? long.MaxValue : afterId ?? 0;
        var (found, member, page) = await PageAsync(dataSource, chatId, me.Id, newestFirst, cursor, limit, newestFirst ? 0 : offset ?? 0, ct);
        if (!member)
        {
            return ChatAccess.Denied(found);
        }
        return TypedResults.Ok(page);
    }

    /// <summary>
    /// One page of chat <c>$1</c> for user <c>$2</c>, read only if they are in it (their membership is the row the page
    /// hangs from): <c>$3</c> the cursor (the page is below it, or above it), <c>$4</c> the limit, <c>$5</c> the offset;
    /// a range of the index of messages not deleted (chat_id, id), read from the cursor on, in that order. PostgreSQL plans
    /// each page anew (a generic plan, blind to how far the cursor is, may walk the primary key instead); this statement
    /// costs it less planning than one that also answers whether the chat exists. The chat is the membership's column, not
    /// <c>$1</c>, in the page's subquery: so the page's plan does not depend on how many messages this one chat has among
    /// all (one that holds a large share of them would be read down the primary key, past every newer message of the others).
    /// </summary>
    private static string PageSql(bool newestFirst) => $"""
        SELECT m.id, m.sender_id, m.text, m.client_message_id, m.created_at, m.edited_at, m.seq, {ReadReceipts.IsReadSql("m")}
        FROM chat_members cm
        CROSS JOIN LATERAL (
            SELECT m.id, m.chat_id, m.sender_id, m.text, m.client_message_id, m.created_at, m.edited_at, m.seq
            FROM messages m
            WHERE m.chat_id = cm.chat_id AND m.deleted_at IS NULL AND m.id {(newestFirst ? "<" : ">")} $3
            ORDER BY m.id {(newestFirst ? "DESC" : "")}
            LIMIT $4 OFFSET $5) m
        WHERE cm.chat_id = $1 AND cm.user_id = $2
        ORDER BY m.id {(newestFirst ? "DESC" : "")}
        """;

    /// <summary>A page that ends below before_id (or is the newest), newest first, as GET /history reads it.</summary>
    public static readonly string NewestFirstSql = PageSql(newestFirst: true);

    /// <summary>A page that begins above after_id, or at an offset from the oldest message.</summary>
    public static readonly string OldestFirstSql = PageSql(newestFirst: false);

    /// <summary>The page, oldest first; when it is empty, whether that is because the chat is not there or not theirs.</summary>
    private static async Task<(bool Found, bool Member, List<MessageDto> Page)> PageAsync(NpgsqlDataSource dataSource, long chatId, long me,
        bool newestFirst, long cursor, int limit, int offset, CancellationToken ct)
    {
        var page = new List<MessageDto>(limit);
        await using (var command = dataSource.CreateCommand(newestFirst ? NewestFirstSql : OldestFirstSql))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = chatId, NpgsqlDbType = NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter { Value = me, NpgsqlDbType = NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter { Value = cursor, NpgsqlDbType = NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter { Value = limit, NpgsqlDbType = NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter { Value = offset, NpgsqlDbType = NpgsqlDbType.Integer });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                page.Add(new MessageDto(reader.GetInt64(0), chatId, reader.GetInt64(1), reader.GetString(2), reader.GetString(3),
                    MessageDto.UnixSeconds(reader.GetDateTime(4)), reader.GetBoolean(7),
                    MessageDto.UnixSeconds(reader.IsDBNull(5) ? null : reader.GetDateTime(5)), reader.GetInt64(6)));
            }
        }
        if (page.Count > 0)
        {
            if (newestFirst)
            {
                page.Reverse();
            }
            return (true, true, page);
        }
        var members = await ChatAccess.MembersAsync(dataSource, chatId, ct);
        return (members is not null, members?.Contains(me) == true, page);
    }
}
