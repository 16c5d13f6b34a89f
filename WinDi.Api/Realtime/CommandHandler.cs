using System.Diagnostics;
using System.Text.Json;
using WinDi.Api.Data;
using WinDi.Api.Messages;

namespace WinDi.Api.Realtime;

/// <summary>Handles one client frame: parses it, runs the command, answers or publishes the events.</summary>
public sealed partial class CommandHandler(
    MessageWriter writer, MessageStore messages, IEventRelay relay, IServiceScopeFactory scopes, ILogger<CommandHandler> logger)
{
    public const int DefaultSyncLimit = 500;
    public const int MaxSyncLimit = 1000;

    /// <summary>
    /// Handles one frame; a bad one gets exactly one ERROR and the connection stays usable. The frame's buffer is not
    /// reused until this returns, so the parsed document reads from it directly.
    /// </summary>
    public async Task HandleAsync(ClientConnection connection, ReadOnlyMemory<byte> frame, CancellationToken ct)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(frame);
        }
        catch (JsonException)
        {
            ReplyError(connection, Protocol.Codes.InvalidJson,
                frame.IsEmpty ? "The frame is empty; a frame is one JSON object with a \"command\"." : "The frame is not valid JSON.");
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                ReplyError(connection, Protocol.Codes.InvalidJson, "A frame must be one JSON object with a \"command\".");
                return;
            }
            // Everything that reads the frame is inside the handling below, so no frame can end the connection.
            string? command = null, clientMessageId = null;
            long? id = null;
            try
            {
                var payload = new Payload(Payload.TryGetProperty(root, "payload", out var p) ? p : default);
                (clientMessageId, id) = (payload.OptionalString("client_message_id"), payload.OptionalInt64("id"));
                // Every string of the frame, before any is used: text the database cannot store fails this frame alone.
                if (StorableText.FindUnstorable(root) is { } path)
                {
                    ReplyError(connection, Protocol.Codes.ValidationFailed, $"{path} {StorableText.Rule}.", clientMessageId, id);
                    return;
                }
                command = root.TryGetProperty("command", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                switch (command)
                {
                    case Protocol.SendMessage: await SendMessage(connection, payload, ct); break;
                    case Protocol.ReadMessage: await ReadMessage(connection, payload, ct); break;
                    case Protocol.Sync: await Sync(connection, payload, ct); break;
                    case Protocol.Ping: connection.Reply(Frames.Pong); break;
                    case null:
                        ReplyError(connection, Protocol.Codes.UnknownCommand, "The frame has no \"command\".");
                        break;
                    default:
                        ReplyError(connection, Protocol.Codes.UnknownCommand,
                            $"Unknown command. Commands: {Protocol.SendMessage}, {Protocol.ReadMessage}, {Protocol.Sync}, {Protocol.Ping}.");
                        break;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Log.CommandFailed(logger, e, command, connection.Id);
                ReplyError(connection, Protocol.Codes.Internal, "The server could not handle this frame; it is safe to retry.", clientMessageId, id);
            }
        }
    }

    private async Task SendMessage(ClientConnection connection, Payload payload, CancellationToken ct)
    {
        var clientMessageId = payload.OptionalString("client_message_id");
        var chatId = payload.OptionalInt64("chat_id");
        var text = payload.OptionalString("text");
        var problem =
            chatId is null ? "payload.chat_id must be an integer." :
            text is null || string.IsNullOrWhiteSpace(text) || text.Length > Message.MaxTextLength ? $"payload.text must be 1 to {Message.MaxTextLength} characters and not blank." :
            clientMessageId is null || clientMessageId.Length is 0 or > Message.MaxClientMessageIdLength ? $"payload.client_message_id must be 1 to {Message.MaxClientMessageIdLength} characters." :
            null;
        if (problem is not null)
        {
            ReplyError(connection, Protocol.Codes.ValidationFailed, problem, clientMessageId);
            return;
        }
        if (!connection.TryTakeCommandPermit())
        {
            ReplyError(connection, Protocol.Codes.RateLimited, "Too many messages; slow down and send again.", clientMessageId);
            return;
        }

        using var activity = StartFrameActivity("message send");
        activity?.SetTag("windi.chat_id", chatId);
        var result = await writer.SendAsync(chatId!.Value, connection.UserId, text!, clientMessageId!, ct);
        activity?.SetTag("windi.send_status", result.Status.ToString());
        switch (result.Status)
        {
            case SendStatus.Created:
                break; // the writer has published it to every member's connections, this one's included
            case SendStatus.Duplicate:
                // Only the sending connection hears of a repeat; everyone else already has the original.
                connection.Reply(Frames.Encode(NewMessageFrame.From(result.Message!)));
                break;
            case SendStatus.ChatNotFound:
                ReplyError(connection, Protocol.Codes.ChatNotFound, "No such chat.", clientMessageId);
                break;
            case SendStatus.NotAMember:
                ReplyError(connection, Protocol.Codes.NotAMember, "You are not a member of this chat.", clientMessageId);
                break;
            default:
                throw new UnreachableException();
        }
    }

    private async Task ReadMessage(ClientConnection connection, Payload payload, CancellationToken ct)
    {
        if (payload.OptionalInt64("id") is not { } id || id < 1)
        {
            ReplyError(connection, Protocol.Codes.ValidationFailed, "payload.id must be a message id.");
            return;
        }
        if (!connection.TryTakeCommandPermit())
        {
            ReplyError(connection, Protocol.Codes.RateLimited, "Too many commands; slow down and send again.", id: id);
            return;
        }
        using var activity = StartFrameActivity("message read");
        activity?.SetTag("windi.message_id", id);
        var result = await messages.MarkReadAsync(id, connection.UserId, ct);
        switch (result.Status)
        {
            case ReadStatus.Read when result.Moved:
                // To the sender's devices (the receipt) and the reader's own (their unread counts).
                var frame = Frames.Encode(new ReadMessageFrame(id, result.ChatId, connection.UserId, result.IsRead));
                await relay.PublishAsync(new RealtimeEvent([result.SenderId, connection.UserId], frame), default, ct);
                break;
            case ReadStatus.Read:
                break; // the marker was there already: nothing changed, so nobody is told
            case ReadStatus.MessageNotFound:
                ReplyError(connection, Protocol.Codes.MessageNotFound, "No such message.", id: id);
                break;
            case ReadStatus.NotAMember:
                ReplyError(connection, Protocol.Codes.NotAMember, "You are not a member of this message's chat.", id: id);
                break;
            case ReadStatus.OwnMessage:
                ReplyError(connection, Protocol.Codes.ValidationFailed, "Read receipts are for other people's messages, not your own.", id: id);
                break;
            default:
                throw new UnreachableException();
        }
    }

    private async Task Sync(ClientConnection connection, Payload payload, CancellationToken ct)
    {
        var afterId = payload.OptionalInt64("after_id");
        var limit = payload.Has("limit") ? payload.OptionalInt64("limit") : DefaultSyncLimit;
        if (afterId is null or < 0 || limit is null or < 1 or > MaxSyncLimit)
        {
            ReplyError(connection, Protocol.Codes.ValidationFailed,
                $"payload.after_id must be 0 or more and payload.limit between 1 and {MaxSyncLimit}.");
            return;
        }
        if (!connection.TryTakeCommandPermit())
        {
            ReplyError(connection, Protocol.Codes.RateLimited, "Too many commands; slow down and SYNC again.");
            return;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<WinDiDb>();
        var (page, hasMore) = await MessageStore.SyncAsync(db, connection.UserId, afterId.Value, (int)limit.Value, ct);
        var frames = new List<ReadOnlyMemory<byte>>(page.Count + 1);
        frames.AddRange(page.Select(m => Frames.Encode(NewMessageFrame.From(m))));
        frames.Add(Frames.Encode(new SyncDoneFrame(page.Count > 0 ? page[^1].Id : afterId.Value, hasMore)));
        connection.Reply(frames);
    }

    /// <summary>
    /// Starts the span of one client frame as the root of a trace of its own, linked to the connection's span.
    /// The WebSocket request's span lasts as long as the socket, hours perhaps: frames parented to it would all
    /// share one trace, complete only when the socket closes. SignalR starts each hub invocation the same way.
    /// Without a listener this returns null before allocating anything.
    /// </summary>
    /// <remarks>
    /// It clears <see cref="Activity.Current"/> for the rest of the calling command, which must be an async
    /// method: the change then ends when it returns, and the next frame finds the connection's span again.
    /// </remarks>
    private static Activity? StartFrameActivity(string name)
    {
        if (!Telemetry.Source.HasListeners())
        {
            return null;
        }
        var connection = Activity.Current;
        Activity.Current = null;
        return Telemetry.Source.StartActivity(name, ActivityKind.Server, parentContext: default,
            links: connection is null ? null : [new ActivityLink(connection.Context)]);
    }

    private static void ReplyError(ClientConnection connection, string code, string detail,
        string? clientMessageId = null, long? id = null) =>
        connection.Reply(Frames.Encode(new ErrorFrame(code, detail, clientMessageId, id)));

    /// <summary>Lenient access to a frame's payload: a missing or mistyped field reads as null, and so does text that cannot be stored.</summary>
    private readonly struct Payload(JsonElement element)
    {
        public bool Has(string name) => TryGetProperty(element, name, out _);

        public string? OptionalString(string name) =>
            TryGetProperty(element, name, out var value) && value.ValueKind == JsonValueKind.String && StorableText.TryGetString(value, out var text)
                ? text
                : null;

        public long? OptionalInt64(string name) =>
            TryGetProperty(element, name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)
                ? number
                : null;

        /// <summary>A lookup that cannot throw: comparing with a property name whose escapes spell a lone surrogate does.</summary>
        public static bool TryGetProperty(JsonElement element, string name, out JsonElement value)
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
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Command {Command} failed on connection {ConnectionId}")]
        public static partial void CommandFailed(ILogger logger, Exception exception, string? command, Guid connectionId);
    }
}
