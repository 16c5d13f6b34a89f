using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace WinDi.Api;

/// <summary>
/// The one rule for text from clients (DESIGN §5): valid UTF-16 (no lone surrogate) and no NUL, which PostgreSQL's
/// text cannot hold. A NUL in one parameter fails the whole statement, and with it every send of a group-commit
/// batch, so such text is refused where it comes in: every string of a frame (FrameDispatcher) and every string a
/// REST endpoint binds (<see cref="RejectUnstorableText{TBuilder}"/>).
/// </summary>
public static class StorableText
{
    /// <summary>What the rule says, after a field name.</summary>
    public const string Rule = @"must be text the server can store: no NUL character (\u0000) and no lone surrogate (such as \ud800)";

    public static bool IsStorable(ReadOnlySpan<char> text)
    {
        if (text.Contains('\0'))
        {
            return false;
        }
        for (var i = text.IndexOfAnyInRange('\uD800', '\uDFFF'); i >= 0 && i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// A JSON string's value when it is storable. JSON escapes can spell a lone surrogate (<c>"\ud800"</c>), which
    /// <see cref="JsonElement.GetString"/> refuses with an exception, and a binary frame can hold invalid UTF-8.
    /// </summary>
    public static bool TryGetString(JsonElement element, out string text)
    {
        text = "";
        try
        {
            text = element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        return IsStorable(text);
    }

    /// <summary>
    /// The path (<c>payload.text</c>) of the first string in <paramref name="element"/>, a value or a property name at
    /// any depth, that is not storable; null when every one is.
    /// </summary>
    public static string? FindUnstorable(JsonElement element) => Find(element)?.TrimStart('.');

    private static string? Find(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return TryGetString(element, out _) ? null : "";
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Find(item) is { } path)
                    {
                        return $"[{index}]{path}";
                    }
                    index++;
                }
                return null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return ".<a property name>";
                    }
                    if (!IsStorable(name))
                    {
                        return ".<a property name>";
                    }
                    if (Find(property.Value) is { } path)
                    {
                        return $".{name}{path}";
                    }
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>
    /// Refuses a request with 400 and <c>errors</c> when a string it binds is not storable: a string parameter (query,
    /// form, route, header) or a string property of the JSON body. Endpoints without strings get no filter.
    /// (JSON that spells a lone surrogate fails earlier, in binding; ErrorHandling answers that one.)
    /// </summary>
    public static TBuilder RejectUnstorableText<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((context, next) =>
        {
            var fields = StringFields(context);
            if (fields.Count == 0)
            {
                return next;
            }
            return invocation =>
            {
                RequestErrors? errors = null;
                foreach (var (argument, name, read) in fields)
                {
                    if (invocation.Arguments[argument] is { } value && read(value) is { } text && !IsStorable(text))
                    {
                        (errors ??= new()).Add(name, $"{name} {Rule}.");
                    }
                }
                return errors is null ? next(invocation) : ValueTask.FromResult<object?>(errors.ToResult());
            };
        });

    /// <summary>The strings an endpoint binds: each argument's index, its name in the request, and how to read it from the argument.</summary>
    private static List<(int Argument, string Name, Func<object, string?> Read)> StringFields(EndpointFilterFactoryContext context)
    {
        var services = context.ApplicationServices;
        var isService = services.GetService<IServiceProviderIsService>();
        var json = services.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        var fields = new List<(int, string, Func<object, string?>)>();
        var parameters = context.MethodInfo.GetParameters();
        for (var i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            var type = parameter.ParameterType;
            if (type == typeof(string))
            {
                var attributes = parameter.GetCustomAttributes(inherit: true);
                var name = attributes.OfType<IFromQueryMetadata>().FirstOrDefault()?.Name
                    ?? attributes.OfType<IFromFormMetadata>().FirstOrDefault()?.Name
                    ?? attributes.OfType<IFromRouteMetadata>().FirstOrDefault()?.Name
                    ?? attributes.OfType<IFromHeaderMetadata>().FirstOrDefault()?.Name
                    ?? parameter.Name!;
                fields.Add((i, name, value => (string)value));
            }
            else if (type.Assembly == typeof(StorableText).Assembly && type.IsClass && isService?.IsService(type) != true)
            {
                // A request body of ours (a DTO): its string properties, by their JSON names.
                fields.AddRange(json.GetTypeInfo(type).Properties
                    .Where(p => p.PropertyType == typeof(string) && p.Get is not null)
                    .Select(p => (i, p.Name, (Func<object, string?>)(value => (string?)p.Get!(value)))));
            }
        }
        return fields;
    }
}
