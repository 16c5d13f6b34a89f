using System.Text.Json;

namespace WinDi.Api;

/// <summary>
/// The one rule for text from clients (DESIGN §5): valid UTF-16 (no lone surrogate) and no NUL, which PostgreSQL's
/// text cannot hold. A NUL in one parameter fails the whole statement, and with it every send of a group-commit
/// batch, so such text is refused where it comes in: every string of a frame (CommandHandler) and every string a
/// REST endpoint binds.
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
}
