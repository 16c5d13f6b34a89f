using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace WinDi.Api;

/// <summary>
/// Every error is a problem document with a human detail: framework responses without a body
/// (401 from the bearer handler, 404 and 405 from routing) get one here, and requests that fail to bind
/// (malformed JSON, a non-numeric query value) are answered 400 with the reason, and a database outage is 503.
/// </summary>
public static class ErrorHandling
{
    public static IServiceCollection AddWinDiProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            if (context.Exception is BadHttpRequestException badRequest)
            {
                problem.Status = badRequest.StatusCode;
                problem.Detail = badRequest.Message;
                if (UnreadableBody(badRequest) is { } errors)
                {
                    problem.Extensions["errors"] = errors;
                }
            }
            problem.Detail ??= problem.Status switch
            {
                StatusCodes.Status401Unauthorized => "A valid bearer token is required: Authorization: Bearer <access_token from POST /token>.",
                StatusCodes.Status403Forbidden => "You may not do this.",
                StatusCodes.Status404NotFound => "There is nothing at this path.",
                StatusCodes.Status405MethodNotAllowed => "This path does not accept that method.",
                StatusCodes.Status413PayloadTooLarge => "The request body is too large.",
                StatusCodes.Status415UnsupportedMediaType => "Unsupported content type: send JSON, or a form for POST /token.",
                StatusCodes.Status500InternalServerError => "Something went wrong on the server.",
                StatusCodes.Status503ServiceUnavailable => "The database is unavailable right now; try again shortly.",
                _ => problem.Title,
            };
        });
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadRequestHandler>();
        services.AddExceptionHandler<DatabaseOutageHandler>();
        return services;
    }

    /// <summary>
    /// A body that could not be bound is a validation error, so it carries <c>errors</c> too: keyed by the JSON field
    /// when the reader knows it (a wrong type, malformed JSON, escapes that spell a lone surrogate, <c>"\ud800"</c>), else
    /// <c>body</c> (a form with a NUL, which the form reader refuses).
    /// </summary>
    private static Dictionary<string, string[]>? UnreadableBody(BadHttpRequestException badRequest) => badRequest.InnerException switch
    {
        JsonException json => new() { [json.Path is null or "$" ? "body" : json.Path.StartsWith("$.", StringComparison.Ordinal) ? json.Path[2..] : json.Path] = [json.InnerException?.Message ?? json.Message] },
        InvalidDataException form => new() { ["body"] = [form.Message] },
        _ => null,
    };

    /// <summary>
    /// A failure Npgsql calls transient (server unreachable or shutting down, a timeout, no free connection), still
    /// there after EF's retries (which wrap it in RetryLimitExceededException): the request was fine, so 503, not 500.
    /// </summary>
    private static bool IsDatabaseOutage(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is NpgsqlException { IsTransient: true })
            {
                return true;
            }
        }
        return false;
    }

    private sealed class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
        {
            if (exception is not BadHttpRequestException badRequest)
            {
                return false;
            }
            http.Response.StatusCode = badRequest.StatusCode;
            return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, Exception = exception });
        }
    }

    private sealed class DatabaseOutageHandler(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
        {
            if (!IsDatabaseOutage(exception))
            {
                return false;
            }
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, Exception = exception });
        }
    }
}
