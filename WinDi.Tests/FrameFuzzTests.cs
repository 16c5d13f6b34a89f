using System.Globalization;
using System.Text;

namespace WinDi.Tests;

/// <summary>
/// Thousands of generated frames, mostly bad (seeded, so a failure replays): truncations, wrong types, huge numbers,
/// lone surrogates and NULs anywhere (values, property names, nested payloads), deep nesting, junk. DESIGN §5: each
/// gets exactly one answer, an ERROR with a code of the protocol's list (a well-formed PING or SYNC excepted), the
/// connection keeps answering, and the server logs no error.
/// </summary>
public sealed class FrameFuzzTests(PostgresServer postgres)
{
    private const int Seed = 20_261_207, Frames = 3_000, Pipelined = 250;

    /// <summary>DESIGN §5's codes, but internal: a healthy server has no reason to fail a frame.</summary>
    private static readonly HashSet<string> Codes =
        ["invalid_json", "unknown_command", "validation_failed", "chat_not_found", "not_a_member", "message_not_found", "rate_limited", "forbidden"];

    [Fact]
    public async Task EveryGeneratedFrameGetsOneAnswerAndTheConnectionKeepsAnswering()
    {
        await using var app = new WinDiApp(postgres);
        var fuzzer = await app.RegisterAsync();
        var (ann, bob) = (await app.RegisterAsync(), await app.RegisterAsync());
        var othersChat = await ann.StartPrivateChatAsync(bob);
        var othersMessage = (await ann.SendAsync(othersChat, "not for the fuzzer")).Id();
        await using var ws = await fuzzer.ConnectAsync();
        var generator = new FrameGenerator(Seed, othersChat, othersMessage);
        var cases = FrameGenerator.Fixed.Concat(Enumerable.Range(0, Frames).Select(_ => generator.Next())).ToList();

        // Frames are pipelined, a PING after each run of them: the server answers in order, one answer a frame.
        var tally = new Dictionary<string, int>();
        foreach (var run in cases.Chunk(Pipelined))
        {
            foreach (var (frame, _) in run)
            {
                await ws.SendRawAsync(frame);
            }
            await ws.SendAsync("PING");
            foreach (var (frame, code) in run)
            {
                var answer = await ws.ReceiveAsync();
                var command = answer.GetProperty("command").GetString();
                var because = $"seed {Seed}, frame {cases.IndexOf((frame, code))}: {frame}\nanswer: {answer}";
                var kind = command == "ERROR" ? answer.GetProperty("code").GetString()! : command!;
                tally[kind] = tally.GetValueOrDefault(kind) + 1;
                if (command == "ERROR")
                {
                    Assert.True(Codes.Contains(answer.GetProperty("code").GetString()!), because);
                    Assert.False(string.IsNullOrWhiteSpace(answer.GetProperty("detail").GetString()), because);
                    Assert.True(code is null || code == answer.GetProperty("code").GetString(), $"expected {code}; {because}");
                }
                else
                {
                    Assert.True(code is null && command is ("PONG" or "SYNC_DONE"), because);
                }
            }
            await ws.ExpectAsync("PONG");
        }

        await ws.ExpectNothingPendingAsync(TimeSpan.Zero);
        // The generator reaches every path: a change that made it, say, all junk would fail here.
        Assert.All(["invalid_json", "unknown_command", "validation_failed", "chat_not_found", "not_a_member", "message_not_found", "PONG", "SYNC_DONE"],
            kind => Assert.True(tally.GetValueOrDefault(kind) >= 10, string.Join(", ", tally.Select(t => $"{t.Key}: {t.Value}"))));
        Assert.DoesNotContain(app.Logs, line => line.StartsWith("Error ", StringComparison.Ordinal) || line.StartsWith("Critical ", StringComparison.Ordinal));
    }

    /// <summary>
    /// Frames as JSON text and the ERROR code each must get (null: any answer a frame may get). Strings are kept as
    /// lists of pieces, each a character or a whole escape, so that a poison escape is inserted between two pieces.
    /// </summary>
    private sealed class FrameGenerator(int seed, long othersChat, long othersMessage)
    {
        private readonly Random random = new(seed);

        public static readonly (string Frame, string? Code)[] Fixed =
        [
            ("", "invalid_json"),
            (" \n\t ", "invalid_json"),
            ("""{"command":"\ud800PING"}""", "validation_failed"),
            ("""{"command":"PING\u0000"}""", "validation_failed"),
            ("""{"\udc00command":"PING"}""", "validation_failed"),
            ("""{"command":"PING","payload":{"\ud800":1}}""", "validation_failed"),
            ("""{"command":"SEND_MESSAGE","payload":{"chat_id":1,"text":"\ude00\ud83d","client_message_id":"x"}}""", "validation_failed"),
            ("""{"command":"SEND_MESSAGE","payload":{"chat_id":1,"text":"ok","client_message_id":"\ud83d"}}""", "validation_failed"),
            ("""{"command":"SYNC","payload":{"after_id":0,"limit":1,"payload":{"payload":["\u0000"]}}}""", "validation_failed"),
            ("""{"command":"READ_MESSAGE","payload":{"id":1e400}}""", "validation_failed"),
            ("""{"command":"READ_MESSAGE","payload":{"id":99999999999999999999999999}}""", "validation_failed"),
            ("""{"command":"SYNC","payload":{"after_id":-9223372036854775808}}""", "validation_failed"),
            ("""{"command":"PING"}{"command":"PING"}""", "invalid_json"),
            ("""{"command":"PING",}""", "invalid_json"),
            ("""{"command":"PING","command":"DANCE"}""", null),
            ("""{"command":"\ud83d\ude00"}""", "unknown_command"),
            ("""{"command":null}""", "unknown_command"),
            ("""{"command":["PING"]}""", "unknown_command"),
            ("null", "invalid_json"),
            ("\"PING\"", "invalid_json"),
            (new string('[', 70) + new string(']', 70), "invalid_json"),
            ("{\"command\":\"PING\",\"payload\":" + new string('[', 70) + new string(']', 70) + "}", "invalid_json"),
        ];

        private static readonly string[] Commands = ["SEND_MESSAGE", "READ_MESSAGE", "EDIT_MESSAGE", "DELETE_MESSAGE", "SYNC", "PING"];
        private static readonly string[] OddNumbers =
            ["0", "-0", "-1", "1.5", "1e3", "1e400", "-1e400", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
             "123456789012345678901234567890", "0.0000000000000000000001", "2E-5"];
        private static readonly string[] Poisons = [@"\u0000", @"\ud800", @"\udbff", @"\udc00", @"\udfff", @"\ude00\ud83d", @"\ud83d\ud83d"];
        private static readonly string[] Pieces = ["a", "Z", "7", " ", "-", "é", "ж", "漢", @"\n", @"\""", @"\\", @"\/", @"\u00e9", @"\ud83d\ude00", "😀"];

        public (string Frame, string? Code) Next()
        {
            var frame = Template();
            switch (random.Next(10))
            {
                case 0 or 1:
                    Poison(frame);
                    return (frame.ToString(), "validation_failed");
                case 2:
                    var text = frame.ToString();
                    return (text[..random.Next(text.Length - 1)], "invalid_json");
                case 3:
                    WrongType(frame);
                    return (frame.ToString(), null);
                case 4:
                    var parent = frame.Members.Find(m => m.Key.ToString() == "\"payload\"").Value as Obj ?? frame;
                    parent.Members.Add((Literal("payload"), Nested(random.Next(1, 30))));
                    return (frame.ToString(), null);
                case 5:
                    return (Junk(), null);
                case 6:
                    frame.Members.RemoveAll(m => m.Key.ToString() == "\"command\"");
                    frame.Members.Insert(0, (Literal("command"), random.Next(3) switch { 0 => Literal(Word()), 1 => Num(), _ => new Raw("{}") }));
                    return (frame.ToString(), "unknown_command");
                default:
                    return (frame.ToString(), null);
            }
        }

        /// <summary>One of the commands, with a payload that is often valid, sometimes not, plus extra fields.</summary>
        private Obj Template()
        {
            var command = Commands[random.Next(Commands.Length)];
            var payload = new Obj([]);
            switch (command)
            {
                case "SEND_MESSAGE":
                    payload.Members.Add((Literal("chat_id"), random.Next(3) == 0 ? new Raw(OddNumbers[random.Next(OddNumbers.Length)]) : Id(othersChat)));
                    payload.Members.Add((Literal("text"), RandomString(random.Next(1, 20))));
                    payload.Members.Add((Literal("client_message_id"), RandomString(random.Next(0, 12))));
                    break;
                case "READ_MESSAGE" or "DELETE_MESSAGE":
                    payload.Members.Add((Literal("id"), random.Next(2) == 0 ? Num() : Id(othersMessage)));
                    break;
                case "EDIT_MESSAGE":
                    payload.Members.Add((Literal("id"), random.Next(2) == 0 ? Num() : Id(othersMessage)));
                    payload.Members.Add((Literal("text"), RandomString(random.Next(0, 20))));
                    break;
                case "SYNC":
                    payload.Members.Add((Literal(random.Next(3) == 0 ? "after_seq" : "after_id"), new Raw(random.Next(0, 1_000_000).ToString(CultureInfo.InvariantCulture))));
                    if (random.Next(2) == 0)
                    {
                        payload.Members.Add((Literal("limit"), new Raw(random.Next(0, 1_200).ToString(CultureInfo.InvariantCulture))));
                    }
                    break;
            }
            if (random.Next(4) == 0)
            {
                payload.Members.Add((RandomString(random.Next(1, 8)), Value(depth: 2)));
            }
            var frame = new Obj([(Literal("command"), Literal(command))]);
            if (command != "PING" || random.Next(2) == 0)
            {
                frame.Members.Add((Literal("payload"), payload));
            }
            if (random.Next(5) == 0)
            {
                frame.Members.Insert(random.Next(frame.Members.Count + 1), (RandomString(random.Next(1, 8)), Value(depth: 2)));
            }
            return frame;
        }

        /// <summary>Inserts a NUL or a lone surrogate escape into one string of the frame: a value or a property name, at any depth.</summary>
        private void Poison(Obj frame)
        {
            var strings = new List<Str>();
            frame.CollectStrings(strings);
            var target = strings[random.Next(strings.Count)];
            target.Pieces.Insert(random.Next(target.Pieces.Count + 1), Poisons[random.Next(Poisons.Length)]);
        }

        /// <summary>Replaces one value (not the frame itself) with a value of another kind.</summary>
        private void WrongType(Obj frame)
        {
            var objects = new List<Obj>();
            frame.CollectObjects(objects);
            var target = objects[random.Next(objects.Count)];
            if (target.Members.Count > 0)
            {
                var i = random.Next(target.Members.Count);
                target.Members[i] = (target.Members[i].Key, Value(depth: 1));
            }
        }

        private Json Nested(int depth) => depth == 0 ? Value(0) : random.Next(2) == 0
            ? new Arr([Nested(depth - 1)])
            : new Obj([(RandomString(random.Next(1, 4)), Nested(depth - 1))]);

        private Json Value(int depth) => random.Next(depth > 0 ? 8 : 5) switch
        {
            0 => Num(),
            1 => RandomString(random.Next(0, 10)),
            2 => new Raw(random.Next(2) == 0 ? "true" : "false"),
            3 => new Raw("null"),
            4 => new Raw(random.Next(0, 1_000).ToString(CultureInfo.InvariantCulture)),
            5 => new Arr([.. Enumerable.Range(0, random.Next(4)).Select(_ => Value(depth - 1))]),
            _ => new Obj([.. Enumerable.Range(0, random.Next(4)).Select(_ => (RandomString(random.Next(1, 6)), Value(depth - 1)))]),
        };

        /// <summary>Half the time the id of something that exists in a chat the fuzzing user is not in, else one that likely does not exist.</summary>
        private Raw Id(long existing) => new((random.Next(2) == 0 ? existing : random.NextInt64(existing + 1_000_000, long.MaxValue)).ToString(CultureInfo.InvariantCulture));

        private Raw Num() => new(random.Next(2) == 0 ? OddNumbers[random.Next(OddNumbers.Length)] : random.NextInt64(-5, long.MaxValue).ToString(CultureInfo.InvariantCulture));

        private string Word() => new([.. Enumerable.Range(0, random.Next(1, 12)).Select(_ => (char)random.Next('A', 'Z' + 1))]);

        private Str RandomString(int length) => new([.. Enumerable.Range(0, length).Select(_ => Pieces[random.Next(Pieces.Length)])]);

        private static Str Literal(string text) => new([.. text.Select(c => c.ToString(CultureInfo.InvariantCulture))]);

        /// <summary>Printable junk, braces and quotes included; rarely, by chance, a JSON object.</summary>
        private string Junk()
        {
            const string alphabet = "{}[]\":,\\ abcPING0123456789-+.eE\u00e9\u6f22";
            var text = new StringBuilder();
            for (var i = random.Next(1, 60); i > 0; i--)
            {
                text.Append(alphabet[random.Next(alphabet.Length)]);
            }
            return text.ToString();
        }
    }

    private abstract record Json
    {
        public virtual void CollectStrings(List<Str> strings) { }
        public virtual void CollectObjects(List<Obj> objects) { }
    }

    private sealed record Raw(string Text) : Json
    {
        public override string ToString() => Text;
    }

    private sealed record Str(List<string> Pieces) : Json
    {
        public override string ToString() => $"\"{string.Concat(Pieces)}\"";
        public override void CollectStrings(List<Str> strings) => strings.Add(this);
    }

    private sealed record Arr(List<Json> Items) : Json
    {
        public override string ToString() => $"[{string.Join(",", Items)}]";
        public override void CollectStrings(List<Str> strings) => Items.ForEach(i => i.CollectStrings(strings));
        public override void CollectObjects(List<Obj> objects) => Items.ForEach(i => i.CollectObjects(objects));
    }

    private sealed record Obj(List<(Str Key, Json Value)> Members) : Json
    {
        public override string ToString() => $"{{{string.Join(",", Members.Select(m => $"{m.Key}:{m.Value}"))}}}";

        public override void CollectStrings(List<Str> strings)
        {
            foreach (var (key, value) in Members)
            {
                strings.Add(key);
                value.CollectStrings(strings);
            }
        }

        public override void CollectObjects(List<Obj> objects)
        {
            objects.Add(this);
            Members.ForEach(m => m.Value.CollectObjects(objects));
        }
    }
}
