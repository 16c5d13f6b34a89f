using System.Collections.Frozen;
using System.Text.Json;
using WinDi.Api.Realtime.Commands;

namespace WinDi.Api.Realtime;

/// <summary>
/// Reads one client frame and hands its payload to the command it names (<see cref="CommandTable"/>). Whatever the
/// frame holds, it gets at most one answer of its own, and an unusable frame gets exactly one ERROR: the connection
/// stays open and usable. The frame's buffer is not reused until this returns, so the document reads from it directly.
/// </summary>
public sealed partial class FrameDispatcher(IEnumerable<ICommand> commands, ILogger<FrameDispatcher> logger)
{
    private readonly FrozenDictionary<string, ICommand> byName = commands.ToFrozenDictionary(c => c.Name, StringComparer.Ordinal);

    public async Task HandleAsync(ClientConnection connection, ReadOnlyMemory<byte> frame, CancellationToken ct)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(frame);
        }
        catch (JsonException)
        {
            new CommandContext(connection, null, null).Fail(Protocol.Codes.InvalidJson,
                frame.IsEmpty ? "The frame is empty; a frame is one JSON object with a \"command\"." : "The frame is not valid JSON.");
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                new CommandContext(connection, null, null).Fail(Protocol.Codes.InvalidJson, "A frame must be one JSON object with a \"command\".");
                return;
            }
            var payload = TryGetProperty(root, "payload", out var p) ? p : default;
            var context = new CommandContext(connection, EchoedString(payload, "client_message_id"), EchoedInt64(payload, "id"));
            string? name = null;
            // Everything that reads the frame is inside the handling below, so no frame can end the connection.
            try
            {
                // Every string of the frame, before any is used: text the database cannot store fails this frame alone.
                if (StorableText.FindUnstorable(root) is { } path)
                {
                    context.Fail(Protocol.Codes.ValidationFailed, $"{path} {StorableText.Rule}.");
                    return;
                }
                name = TryGetProperty(root, "command", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                if (name is not null && byName.TryGetValue(name, out var command))
                {
                    await command.HandleAsync(context, payload, ct);
                }
                else
                {
                    context.Fail(Protocol.Codes.UnknownCommand, name is null
                        ? "The frame has no \"command\"."
                        : $"Unknown command. Commands: {string.Join(", ", byName.Keys.Order(StringComparer.Ordinal))}.");
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Log.CommandFailed(logger, e, name is not null && byName.ContainsKey(name) ? name : null, connection.Id);
                context.Fail(Protocol.Codes.Internal, "The server could not handle this frame; it is safe to retry.");
            }
        }
    }

    /// <summary>The frame's own id, echoed in its answers even when the rest of the payload is unusable.</summary>
    private static string? EchoedString(JsonElement payload, string name) =>
        TryGetProperty(payload, name, out var value) && value.ValueKind == JsonValueKind.String && StorableText.TryGetString(value, out var text)
            ? text
            : null;

    private static long? EchoedInt64(JsonElement payload, string name) =>
        TryGetProperty(payload, name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)
            ? number
            : null;

    /// <summary>A lookup that cannot throw: comparing with a property name whose escapes spell a lone surrogate does.</summary>
    private static bool TryGetProperty(JsonElement element, string name, out JsonElement value)
    {
        value = default;
        try
        {
            return element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out value);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        // Only a known command's name is logged: the frame's text is the client's.
        [LoggerMessage(Level = LogLevel.Error, Message = "Command {Command} failed on connection {ConnectionId}")]
        public static partial void CommandFailed(ILogger logger, Exception exception, string? command, Guid connectionId);
    }
}
