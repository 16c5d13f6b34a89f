using System.Collections.Frozen;
using System.Text.Json;
using WinDi.Api.Realtime.Commands;

namespace WinDi.Api.Realtime;

/// <summary>
/// Reads one client frame and hands its payload to the command it names (<see cref="CommandTable"/>). Whatever the
/// frame holds, it gets at most one answer of its own, and an unusable frame gets exactly one ERROR: the connection
/// stays open and usable. Answers leave in the order of the frames.
/// <para>
/// A pipelined command (SEND_MESSAGE) does not hold up the next frame while it is stored: the connection reads on, up
/// to <see cref="ClientConnection.MaxSendsInFlight"/> of them are in the writer's queue at once, so that a client's
/// burst of sends shares batches; the writer answers them in the order it stores them. Every other frame, and a send
/// refused before the writer, first waits for the sends before it, so that it sees them stored and its answer comes
/// after theirs.
/// </para>
/// The frame's buffer and its document are read only until the command's first wait: the payload is read into a record
/// before anything waits, and the buffer is reused once this returns.
/// </summary>
public sealed partial class FrameDispatcher(IEnumerable<ICommand> commands, ILogger<FrameDispatcher> logger)
{
    private readonly FrozenDictionary<string, ICommand> byName = commands.ToFrozenDictionary(c => c.Name, StringComparer.Ordinal);

    public async Task HandleAsync(ClientConnection connection, ReadOnlyMemory<byte> frame, CancellationToken ct)
    {
        using var document = TryParse(frame);
        var (context, payload, command, refusal) = Read(connection, document, frame);
        if (command is { Pipelined: true })
        {
            await connection.WaitForRoomForSendAsync();
            var held = context with { Held = new HeldReplies() };
            var handling = RunAsync(command, held, payload, ct); // reads the payload before it waits
            if (!handling.IsCompleted)
            {
                // With the writer, which answers in the order it stores: the connection reads on.
                connection.AddSendInFlight(AnswerInTurnAsync(handling, connection.LastSendInFlight, held));
                return;
            }
            // Refused before the writer (validation, rate limit): answered in turn, before the next frame is read.
            await connection.WaitForSendsAsync();
            await handling;
            held.Held!.SendTo(connection);
            return;
        }

        await connection.WaitForSendsAsync();
        if (refusal is { } refused)
        {
            context.Fail(refused.Code, refused.Detail);
        }
        else
        {
            await RunAsync(command!, context, payload, ct);
        }
    }

    private static JsonDocument? TryParse(ReadOnlyMemory<byte> frame)
    {
        try
        {
            return JsonDocument.Parse(frame);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The frame's command and payload, or why it cannot be handled (an ERROR's code and detail).</summary>
    private (CommandContext Context, JsonElement Payload, ICommand? Command, (string Code, string Detail)? Refusal) Read(
        ClientConnection connection, JsonDocument? document, ReadOnlyMemory<byte> frame)
    {
        if (document is null)
        {
            return (new CommandContext(connection, null, null), default, null, (Protocol.Codes.InvalidJson,
                frame.IsEmpty ? "The frame is empty; a frame is one JSON object with a \"command\"." : "The frame is not valid JSON."));
        }
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return (new CommandContext(connection, null, null), default, null,
                (Protocol.Codes.InvalidJson, "A frame must be one JSON object with a \"command\"."));
        }
        var payload = TryGetProperty(root, "payload", out var p) ? p : default;
        var context = new CommandContext(connection, EchoedString(payload, "client_message_id"), EchoedInt64(payload, "id"));
        try
        {
            // Every string of the frame, before any is used: text the database cannot store fails this frame alone.
            if (StorableText.FindUnstorable(root) is { } path)
            {
                return (context, payload, null, (Protocol.Codes.ValidationFailed, $"{path} {StorableText.Rule}."));
            }
            var name = TryGetProperty(root, "command", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            if (name is not null && byName.TryGetValue(name, out var command))
            {
                return (context, payload, command, null);
            }
            return (context, payload, null, (Protocol.Codes.UnknownCommand, name is null
                ? "The frame has no \"command\"."
                : $"Unknown command. Commands: {string.Join(", ", byName.Keys.Order(StringComparer.Ordinal))}."));
        }
        catch (Exception e)
        {
            // Whatever reads the frame, no frame can end the connection.
            Log.CommandFailed(logger, e, null, connection.Id);
            return (context, payload, null, (Protocol.Codes.Internal, "The server could not handle this frame; it is safe to retry."));
        }
    }

    /// <summary>Runs the command; a failure of its own is this frame's ERROR internal, and never ends the connection.</summary>
    private async Task RunAsync(ICommand command, CommandContext context, JsonElement payload, CancellationToken ct)
    {
        try
        {
            await command.HandleAsync(context, payload, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            Log.CommandFailed(logger, e, command.Name, context.Connection.Id);
            context.Fail(Protocol.Codes.Internal, "The server could not handle this frame; it is safe to retry.");
        }
    }

    /// <summary>
    /// A pipelined frame's own answers (the writer answers its send; this is for a failure of the command's own after
    /// that), once it is handled and the frames before it have answered.
    /// </summary>
    private static async Task AnswerInTurnAsync(Task handling, Task preceding, CommandContext context)
    {
        await handling;
        await preceding.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        context.Held!.SendTo(context.Connection);
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
