using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace WinDi.Api.Realtime.Commands;

/// <summary>A client command as the dispatcher sees it: a name and a way to handle the frame's payload.</summary>
public interface ICommand
{
    string Name { get; }

    /// <summary>
    /// Whether the connection reads its next frame while this one is handled (<see cref="FrameDispatcher"/>): true only
    /// for a command that waits for the writer, whose order the writer's queue keeps.
    /// </summary>
    bool Pipelined { get; }

    /// <param name="payload">The frame's <c>payload</c>; <see cref="JsonValueKind.Undefined"/> when it has none.</param>
    Task HandleAsync(CommandContext context, JsonElement payload, CancellationToken ct);
}

/// <summary>
/// One WebSocket command: its name, its payload as a record read by source-generated JSON, the payload's rules,
/// and what it does. A new command is one file with a payload record, its JSON context and a subclass of this,
/// plus one line in <see cref="CommandTable"/>. A payload that does not fit the record (a mistyped field, not an
/// object), or breaks <see cref="Validate"/>, gets <c>validation_failed</c>; one beyond the connection's budget
/// (when <see cref="Metered"/>) gets <c>rate_limited</c>, and nothing is done.
/// </summary>
public abstract class Command<TPayload> : ICommand where TPayload : class
{
    public abstract string Name { get; }

    protected abstract JsonTypeInfo<TPayload> PayloadJson { get; }

    public virtual bool Pipelined => false;

    /// <summary>Whether the command spends the connection's token bucket (it costs the server work).</summary>
    protected virtual bool Metered => true;

    /// <summary>The name of the span each frame of this command gets; null for none.</summary>
    protected virtual string? SpanName => null;

    /// <summary>A problem with the payload as the client should read it (naming the field), or null.</summary>
    protected virtual string? Validate(TPayload payload) => null;

    protected abstract Task HandleAsync(CommandContext context, TPayload payload, CancellationToken ct);

    public async Task HandleAsync(CommandContext context, JsonElement payload, CancellationToken ct)
    {
        TPayload? typed;
        try
        {
            typed = payload.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null
                ? JsonSerializer.Deserialize("{}", PayloadJson)
                : payload.Deserialize(PayloadJson);
        }
        catch (JsonException e)
        {
            context.Fail(Protocol.Codes.ValidationFailed, $"{FieldOf(e)} has the wrong type for {Name}.");
            return;
        }
        if (typed is null)
        {
            context.Fail(Protocol.Codes.ValidationFailed, "payload must be an object.");
            return;
        }
        if (Validate(typed) is { } problem)
        {
            context.Fail(Protocol.Codes.ValidationFailed, problem);
            return;
        }
        if (Metered && !TrySpendBudget(context))
        {
            return;
        }
        using var activity = SpanName is null ? null : StartFrameActivity(SpanName);
        await HandleAsync(context, typed, ct);
    }

    /// <summary>Takes one unit of the connection's command budget, or answers rate_limited and returns false.</summary>
    protected static bool TrySpendBudget(CommandContext context)
    {
        if (context.Connection.TryTakeCommandPermit())
        {
            return true;
        }
        context.Fail(Protocol.Codes.RateLimited, "Too many commands; slow down and send again.");
        return false;
    }

    /// <summary>"payload.chat_id" for the JSON path "$.chat_id".</summary>
    private static string FieldOf(JsonException e) =>
        e.Path is { Length: > 1 } path && path.StartsWith("$.", StringComparison.Ordinal) ? $"payload.{path[2..]}" : "payload";

    /// <summary>
    /// Starts the span of one client frame as the root of a trace of its own, linked to the connection's span.
    /// The WebSocket request's span lasts as long as the socket, hours perhaps: frames parented to it would all
    /// share one trace, complete only when the socket closes. SignalR starts each hub invocation the same way.
    /// Without a listener this returns null before allocating anything.
    /// </summary>
    /// <remarks>
    /// It clears <see cref="Activity.Current"/> for the rest of the calling method, which is async: the change
    /// then ends when it returns, and the next frame finds the connection's span again.
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
}

/// <summary>The connection a frame came on, and the ids the frame carried, which every answer to it echoes.</summary>
public readonly record struct CommandContext(ClientConnection Connection, string? ClientMessageId, long? Id)
{
    public long UserId => Connection.UserId;

    /// <summary>Where a pipelined frame's answers wait for their turn; null: they go out at once.</summary>
    public HeldReplies? Held { get; init; }

    public void Reply(ReadOnlyMemory<byte> frame)
    {
        if (Held is { } held)
        {
            held.Add(frame);
        }
        else
        {
            Connection.Reply(frame);
        }
    }

    /// <summary>Answers the frame with one ERROR; the connection stays open and usable.</summary>
    public void Fail(string code, string detail) => Reply(Error(code, detail));

    /// <summary>The ERROR that answers this frame.</summary>
    public ReadOnlyMemory<byte> Error(string code, string detail) => Frames.Encode(new ErrorFrame(code, detail, ClientMessageId, Id));
}

/// <summary>A pipelined frame's answers, held until the frames before it have answered (<see cref="FrameDispatcher"/>).</summary>
public sealed class HeldReplies
{
    private readonly List<ReadOnlyMemory<byte>> frames = new(1);

    public void Add(ReadOnlyMemory<byte> frame) => frames.Add(frame);

    public void SendTo(ClientConnection connection)
    {
        foreach (var frame in frames)
        {
            connection.Reply(frame);
        }
    }
}
