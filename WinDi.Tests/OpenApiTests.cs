namespace WinDi.Tests;

/// <summary>
/// Scalar shows what /openapi/v1.json declares, so every problem an endpoint can answer must be there, as
/// application/problem+json with its schema. The table is README's REST table, plus 401 on every protected
/// operation and 503 on every operation (each touches the database, and an outage answers 503).
/// </summary>
public sealed class OpenApiTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private const string ProblemJson = "application/problem+json";
    private const string Problem = "ProblemDetails";
    private const string Invalid = "HttpValidationProblemDetails";

    private static readonly Dictionary<string, (int Status, string Schema)[]> Expected = new()
    {
        ["POST /register"] = [(400, Invalid), (409, Problem), (429, Problem), (503, Problem)],
        ["POST /token"] = [(400, Invalid), (401, Problem), (429, Problem), (503, Problem)],
        ["GET /users/me"] = [(401, Problem), (503, Problem)],
        ["GET /users"] = [(400, Invalid), (401, Problem), (503, Problem)],
        ["GET /chats"] = [(401, Problem), (503, Problem)],
        ["POST /chats"] = [(400, Invalid), (401, Problem), (404, Problem), (409, Problem), (503, Problem)],
        ["GET /chats/{id}"] = [(401, Problem), (403, Problem), (404, Problem), (503, Problem)],
        ["POST /chats/{id}/add-user"] = [(400, Problem), (401, Problem), (403, Problem), (404, Problem), (409, Problem), (503, Problem)],
        ["DELETE /chats/{id}/exit"] = [(401, Problem), (403, Problem), (404, Problem), (503, Problem)],
        ["GET /history/{chatId}"] = [(400, Invalid), (401, Problem), (403, Problem), (404, Problem), (503, Problem)],
        ["POST /logout"] = [(401, Problem), (503, Problem)],
        ["GET /sessions"] = [(401, Problem), (503, Problem)],
        ["DELETE /sessions/{id}"] = [(401, Problem), (404, Problem), (503, Problem)],
    };

    public static TheoryData<string> Operations => [.. Expected.Keys];

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task EachOperationDocumentsItsProblemAnswersAsProblemJson(string operation)
    {
        var document = await DocumentAsync();
        var methodAndPath = operation.Split(' ', 2);

        var responses = document.GetProperty("paths").GetProperty(methodAndPath[1]).GetProperty(methodAndPath[0].ToLowerInvariant()).GetProperty("responses");
        var problems = responses.EnumerateObject()
            .Where(response => int.TryParse(response.Name, out var status) && status >= 400)
            .Select(response => $"{response.Name} {SchemaOf(response.Value)}");

        Assert.Equal(Expected[operation].Select(answer => $"{answer.Status} {answer.Schema}").ToArray(), problems.Order().ToArray());
    }

    [Fact]
    public async Task EveryDocumentedOperationIsInTheTable()
    {
        var document = await DocumentAsync();

        var documented = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(method => $"{method.Name.ToUpperInvariant()} {path.Name}"));

        Assert.Equal(Expected.Keys.Order().ToArray(), documented.Order().ToArray());
    }

    private async Task<JsonElement> DocumentAsync()
    {
        using var http = shared.App.Anonymous();
        return await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
    }

    /// <summary>The schema of the response's problem+json content, by its component name, or why there is none.</summary>
    private static string SchemaOf(JsonElement response)
    {
        if (!response.TryGetProperty("content", out var content) || !content.TryGetProperty(ProblemJson, out var problem))
        {
            return $"(no {ProblemJson} content)";
        }
        return problem.TryGetProperty("schema", out var schema) && schema.TryGetProperty("$ref", out var reference)
            ? reference.GetString()![(reference.GetString()!.LastIndexOf('/') + 1)..]
            : "(no schema reference)";
    }
}
