using Microsoft.AspNetCore.Http.HttpResults;

namespace WinDi.Api;

/// <summary>Problem-details results with a human <c>detail</c> (DESIGN §4: every error body is RFC 9457).</summary>
public static class Problems
{
    public static ProblemHttpResult NotFound(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound);
    public static ProblemHttpResult Forbidden(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status403Forbidden);
    public static ProblemHttpResult Conflict(string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, extensions: extensions);
    public static ProblemHttpResult BadRequest(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest);

    public static ValidationProblem Invalid(string field, string error) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [error] }, detail: error);

    public const string NotAMember = "You are not a member of this chat.";
    public const string NoSuchChat = "No such chat.";
}

/// <summary>Collects field errors for a request and turns them into one validation problem.</summary>
public sealed class RequestErrors
{
    private readonly Dictionary<string, string[]> errors = [];

    public bool Any => errors.Count > 0;

    public void Add(string field, string error) =>
        errors[field] = errors.TryGetValue(field, out var existing) ? [.. existing, error] : [error];

    /// <param name="oauthError">The RFC 6749 §5.2 <c>error</c> member that the token endpoint's 400s also carry.</param>
    public ValidationProblem ToResult(string? oauthError = null) =>
        TypedResults.ValidationProblem(errors, detail: string.Join(" ", errors.Values.SelectMany(e => e)),
            extensions: oauthError is null ? null : new Dictionary<string, object?> { ["error"] = oauthError });
}

/// <summary>The RFC 6749 §5.2 error codes POST /token answers with (in the problem document's <c>error</c> member).</summary>
public static class OAuthError
{
    public const string InvalidRequest = "invalid_request";
    public const string InvalidGrant = "invalid_grant";
    public const string UnsupportedGrantType = "unsupported_grant_type";
}
