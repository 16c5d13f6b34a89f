using System.Text.Json;
using System.Text.Json.Serialization;
using WinDi.Api.Messages;

namespace WinDi.Api.Realtime;

/// <summary>Frame names and ERROR codes of the WebSocket protocol (DESIGN §5); the commands are in Commands/.</summary>
public static class Protocol
{
    public const string SendMessage = "SEND_MESSAGE";
    public const string ReadMessage = "READ_MESSAGE";
    public const string EditMessage = "EDIT_MESSAGE";
    public const string DeleteMessage = "DELETE_MESSAGE";
    public const string Sync = "SYNC";
    public const string Ping = "PING";
    public const string Typing = "TYPING";
    public const string NewMessage = "NEW_MESSAGE";
    public const string MessageEdited = "MESSAGE_EDITED";
    public const string MessageDeleted = "MESSAGE_DELETED";
    public const string SyncDone = "SYNC_DONE";
    public const string Pong = "PONG";
    public const string Error = "ERROR";

    public static class Codes
    {
        public const string InvalidJson = "invalid_json";
        public const string UnknownCommand = "unknown_command";
        public const string ValidationFailed = "validation_failed";
        public const string ChatNotFound = "chat_not_found";
        public const string NotAMember = "not_a_member";
        public const string MessageNotFound = "message_not_found";
        /// <summary>Editing or deleting someone else's message (DESIGN §7).</summary>
        public const string Forbidden = "forbidden";
        public const string RateLimited = "rate_limited";
        public const string Internal = "internal";
    }
}

/// <summary>The Message fields; <c>edited_at</c> is always written (null if never edited), as on REST.</summary>
public sealed record NewMessageFrame(long Id, long ChatId, long SenderId, string Text, string ClientMessageId, long Timestamp, bool IsRead,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] long? EditedAt, long Seq)
{
    [JsonPropertyOrder(-1)]
    public string Command => Protocol.NewMessage;

    public static NewMessageFrame From(MessageDto m) => new(m.Id, m.ChatId, m.SenderId, m.Text, m.ClientMessageId, m.Timestamp, m.IsRead, m.EditedAt, m.Seq);
}

public sealed record MessageEditedFrame(long Id, long ChatId, string Text, long EditedAt, long Seq)
{
    [JsonPropertyOrder(-1)]
    public string Command => Protocol.MessageEdited;
}

/// <param name="ClientMessageId">Only in the answer to a repeated SEND_MESSAGE whose message was deleted since, so that
/// the sender can match it to what it sent; omitted everywhere else.</param>
public sealed record MessageDeletedFrame(long Id, long ChatId, long Seq, string? ClientMessageId = null)
{
    [JsonPropertyOrder(-1)]
    public string Command => Protocol.MessageDeleted;
}

public sealed record ReadMessageFrame(long Id, long ChatId, long ReaderId, bool IsRead)
{
    [JsonPropertyOrder(-1)]
    public string Command => Protocol.ReadMessage;
}

/// <summary>SYNC {after_id} answers with <c>last_id</c>, SYNC {after_seq} with <c>last_seq</c>; the other is omitted.</summary>
public sealed record SyncDoneFrame(long? LastId, long? LastSeq, bool HasMore)
{
    [JsonPropertyOrder(-1)]
    public string Command => Protocol.SyncDone;
}

/// <summary>TYPING to the chat's other members: <paramref name="UserId"/> is typing in it (never stored).</summary>
public sealed record TypingFrame(long ChatId, long UserId)
{
    [JsonPropertyOrder(-1)]
    public string Command => Protocol.Typing;
}

public sealed record PongFrame
{
    public string Command => Protocol.Pong;
}

/// <summary>Answers one client frame; carries that frame's client_message_id or id when it had one.</summary>
public sealed record ErrorFrame(string Code, string Detail, string? ClientMessageId = null, long? Id = null)
{
    [JsonPropertyOrder(-1)]
    public string Command => Protocol.Error;
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NewMessageFrame))]
[JsonSerializable(typeof(MessageEditedFrame))]
[JsonSerializable(typeof(MessageDeletedFrame))]
[JsonSerializable(typeof(ReadMessageFrame))]
[JsonSerializable(typeof(SyncDoneFrame))]
[JsonSerializable(typeof(TypingFrame))]
[JsonSerializable(typeof(PongFrame))]
[JsonSerializable(typeof(ErrorFrame))]
internal sealed partial class FrameJson : JsonSerializerContext;

public static class Frames
{
    public static ReadOnlyMemory<byte> Encode(NewMessageFrame frame) => JsonSerializer.SerializeToUtf8Bytes(frame, FrameJson.Default.NewMessageFrame);
    public static ReadOnlyMemory<byte> Encode(MessageEditedFrame frame) => JsonSerializer.SerializeToUtf8Bytes(frame, FrameJson.Default.MessageEditedFrame);
    public static ReadOnlyMemory<byte> Encode(MessageDeletedFrame frame) => JsonSerializer.SerializeToUtf8Bytes(frame, FrameJson.Default.MessageDeletedFrame);
    public static ReadOnlyMemory<byte> Encode(ReadMessageFrame frame) => JsonSerializer.SerializeToUtf8Bytes(frame, FrameJson.Default.ReadMessageFrame);
    public static ReadOnlyMemory<byte> Encode(SyncDoneFrame frame) => JsonSerializer.SerializeToUtf8Bytes(frame, FrameJson.Default.SyncDoneFrame);
    public static ReadOnlyMemory<byte> Encode(TypingFrame frame) => JsonSerializer.SerializeToUtf8Bytes(frame, FrameJson.Default.TypingFrame);
    public static ReadOnlyMemory<byte> Encode(ErrorFrame frame) => JsonSerializer.SerializeToUtf8Bytes(frame, FrameJson.Default.ErrorFrame);
    public static readonly ReadOnlyMemory<byte> Pong = JsonSerializer.SerializeToUtf8Bytes(new PongFrame(), FrameJson.Default.PongFrame);
}
