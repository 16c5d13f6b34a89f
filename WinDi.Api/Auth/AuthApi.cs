using System.Net.Mail;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using WinDi.Api.Data;
using WinDi.Api.Users;

namespace WinDi.Api.Auth;

public sealed record RegisterRequest(string? Name, string? Email, string? Password);

public static class AuthApi
{
    public const int MaxNameLength = 50;
    public const int MinPasswordLength = 6;
    public const int MaxPasswordLength = 128;
    private const int MaxEmailLength = 254;
    private const string EmailTaken = "An account with this email already exists.";

    public static IEndpointRouteBuilder MapAuth(this IEndpointRouteBuilder routes)
    {
        var auth = routes.MapGroup("").WithTags("Auth").AllowAnonymous().RejectUnstorableText()
            .RequireRateLimiting(AuthRequestLimit.PolicyName)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        auth.MapPost("/register", Register).WithSummary("Create an account")
            .ProducesProblem(StatusCodes.Status409Conflict);
        auth.MapPost("/token", IssueToken).WithSummary("Log in, or refresh a session (OAuth2 token endpoint)")
            .WithDescription("Password grant (grant_type=password, or no grant_type, as the original's clients send): username = " +
                "email, password; starts a session. Refresh grant: grant_type=refresh_token&refresh_token=R; R stops working and " +
                "the answer carries its successor (rotation). A rotated R used again ends its session. Both answer access_token, " +
                "token_type, expires_in, refresh_token and refresh_expires_in (seconds). A 400 carries the RFC 6749 §5.2 member " +
                "error: invalid_request, invalid_grant (the refresh token is unknown, expired, rotated or revoked: log in again) " +
                "or unsupported_grant_type.")
            .DisableAntiforgery()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        return routes;
    }

    private static async Task<Results<Created<UserDto>, ValidationProblem, ProblemHttpResult>> Register(
        RegisterRequest request, WinDiDb db, IPasswordHasher<User> hasher, ILogger<AuthLog> logger, CancellationToken ct)
    {
        var name = request.Name?.Trim() ?? "";
        var email = request.Email?.Trim() ?? "";
        var password = request.Password ?? "";
        var errors = new RequestErrors();
        if (name.Length is 0 or > MaxNameLength)
        {
            errors.Add("name", $"name must be 1 to {MaxNameLength} characters.");
        }
        if (!IsEmail(email))
        {
            errors.Add("email", "email must be a valid email address.");
        }
        if (password.Length is < MinPasswordLength or > MaxPasswordLength)
        {
            errors.Add("password", $"password must be {MinPasswordLength} to {MaxPasswordLength} characters.");
        }
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var normalizedEmail = User.Normalize(email);
        if (await db.Users.AnyAsync(u => u.NormalizedEmail == normalizedEmail, ct))
        {
            return Problems.Conflict(EmailTaken);
        }
        var user = new User { Name = name, Email = email, NormalizedEmail = normalizedEmail, PasswordHash = "" };
        user.PasswordHash = hasher.HashPassword(user, password);
        db.Users.Add(user);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation())
        {
            // A parallel registration of the same email won: the unique index decided.
            return Problems.Conflict(EmailTaken);
        }
        AuthLog.Registered(logger, user.Id);
        return TypedResults.Created($"/users/{user.Id}", new UserDto(user.Id, user.Email, user.Name));
    }

    /// <summary>
    /// The OAuth2 token endpoint (RFC 6749 §4.3 and §6). Both grants count towards the per-address request limit: it is
    /// decided before the body (and so the grant) is read, and a client refreshes once per access token.
    /// </summary>
    private static async Task<Results<Ok<TokenResponse>, ValidationProblem, ProblemHttpResult>> IssueToken(
        [FromForm(Name = "grant_type")] string? grantType, [FromForm] string? username, [FromForm] string? password,
        [FromForm(Name = "refresh_token")] string? refreshToken,
        WinDiDb db, IPasswordHasher<User> hasher, TokenIssuer tokens, LoginThrottle throttle, Sessions sessions,
        HttpContext http, ILogger<AuthLog> logger, CancellationToken ct)
    {
        // RFC 6749 §5.1: a response that carries tokens is never cached.
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Pragma = "no-cache";
        switch (grantType)
        {
            case null or "" or "password":
                return await PasswordGrantAsync(username, password, db, hasher, tokens, throttle, sessions, http, logger, ct);
            case "refresh_token":
                return await RefreshGrantAsync(refreshToken, tokens, sessions, logger, ct);
            default:
                var unsupported = new RequestErrors();
                unsupported.Add("grant_type", "grant_type must be password (or left out) or refresh_token.");
                return unsupported.ToResult(OAuthError.UnsupportedGrantType);
        }
    }

    private static async Task<Results<Ok<TokenResponse>, ValidationProblem, ProblemHttpResult>> RefreshGrantAsync(
        string? refreshToken, TokenIssuer tokens, Sessions sessions, ILogger<AuthLog> logger, CancellationToken ct)
    {
        var errors = new RequestErrors();
        if (string.IsNullOrEmpty(refreshToken))
        {
            errors.Add("refresh_token", "refresh_token is required with grant_type=refresh_token.");
            return errors.ToResult(OAuthError.InvalidRequest);
        }
        if (await sessions.RefreshAsync(refreshToken, ct) is not { } refreshed)
        {
            AuthLog.RefreshRefused(logger);
            errors.Add("refresh_token", "This refresh token is not valid: it is unknown, expired, already used or revoked. Log in again.");
            return errors.ToResult(OAuthError.InvalidGrant);
        }
        return TypedResults.Ok(tokens.Issue(refreshed.UserId, refreshed.Name, refreshed.Email, refreshed.SessionId, refreshed.RefreshToken));
    }

    private static async Task<Results<Ok<TokenResponse>, ValidationProblem, ProblemHttpResult>> PasswordGrantAsync(
        string? username, string? password,
        WinDiDb db, IPasswordHasher<User> hasher, TokenIssuer tokens, LoginThrottle throttle, Sessions sessions,
        HttpContext http, ILogger<AuthLog> logger, CancellationToken ct)
    {
        // Before anything is counted or hashed: no account has a longer email, and a counter is never keyed by a long string.
        var usernameLength = username.AsSpan().Trim().Length;
        if (username is null || usernameLength is 0 or > MaxEmailLength || string.IsNullOrEmpty(password))
        {
            var errors = new RequestErrors();
            if (usernameLength == 0) errors.Add("username", "username (your email) is required.");
            if (usernameLength > MaxEmailLength) errors.Add("username", $"username (your email) must be at most {MaxEmailLength} characters.");
            if (string.IsNullOrEmpty(password)) errors.Add("password", "password is required.");
            return errors.ToResult(OAuthError.InvalidRequest);
        }

        var account = User.Normalize(username);
        // Counted as a failure before the password is checked, so parallel guesses cannot all pass; given back below when it is right.
        var reservation = await throttle.TryReserveAsync(throttle.KeyOf(account, http));
        if (reservation.RetryAfter is { } wait)
        {
            AuthLog.LoginThrottled(logger);
            TooManyRequests.SetRetryAfter(http.Response, wait);
            return TypedResults.Problem("Too many failed logins for this account from your address; try again later.", statusCode: StatusCodes.Status429TooManyRequests);
        }

        User? user;
        PasswordVerificationResult verdict;
        try
        {
            user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.NormalizedEmail == account, ct);
            // An unknown email costs the same hash work as a wrong password, so timing does not reveal accounts.
            verdict = hasher.VerifyHashedPassword(user ?? UnknownUser.Instance, user?.PasswordHash ?? UnknownUser.Hash, password);
        }
        catch
        {
            // No password was checked (the database is down, the client went away): nothing to count.
            await throttle.GiveBackAsync(reservation);
            throw;
        }
        if (user is null || verdict == PasswordVerificationResult.Failed)
        {
            AuthLog.LoginFailed(logger);
            return TypedResults.Problem("Incorrect email or password.", statusCode: StatusCodes.Status401Unauthorized);
        }
        await throttle.GiveBackAsync(reservation);
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            await db.Users.Where(u => u.Id == user.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.PasswordHash, hasher.HashPassword(user, password)), ct);
        }
        var (sessionId, refresh) = await sessions.StartAsync(user.Id, ct);
        return TypedResults.Ok(tokens.Issue(user.Id, user.Name, user.Email, sessionId, refresh));
    }

    private static bool IsEmail(string email) =>
        email.Length <= MaxEmailLength
        && MailAddress.TryCreate(email, out var address)
        && address.Address == email
        && address.Host.Contains('.', StringComparison.Ordinal);

    private static class UnknownUser
    {
        public static readonly User Instance = new() { Name = "", Email = "", NormalizedEmail = "", PasswordHash = "" };
        public static readonly string Hash = new PasswordHasher<User>().HashPassword(Instance, Guid.NewGuid().ToString());
    }
}

/// <summary>The auth endpoints' log messages; also their log category (WinDi.Api.Auth.AuthLog).</summary>
public sealed partial class AuthLog
{
    private AuthLog()
    {
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered user {UserId}")]
    public static partial void Registered(ILogger logger, long userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Failed login")]
    public static partial void LoginFailed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Login refused: too many failed attempts for the account from the client's address")]
    public static partial void LoginThrottled(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refresh refused: the refresh token is unknown, expired, rotated or revoked")]
    public static partial void RefreshRefused(ILogger logger);
}
