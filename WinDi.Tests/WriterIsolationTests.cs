using System.Globalization;
using Npgsql;

namespace WinDi.Tests;

/// <summary>
/// The group-commit writer stores every send of a batch but the ones the database itself refuses. The reason here is
/// a CHECK constraint this test adds to a database of its own: a rule the API's validation knows nothing about (as a
/// new constraint, a trigger or an encoding rule would be), enforced by PostgreSQL on the real batch statement.
/// </summary>
public sealed class WriterIsolationTests(PostgresServer postgres)
{
    private const string Refused = "zzz-refused-zzz";

    [Fact]
    public async Task SendsTheDatabaseRefusesFailAloneAndTheRestOfTheirBatchIsStoredOnceInOrder()
    {
        var connectionString = await postgres.CreateRefusingDatabaseAsync("windi_refusing", Refused);
        await using var database = NpgsqlDataSource.Create(connectionString);
        await using var app = new WinDiApp(postgres, new Dictionary<string, string?> { ["ConnectionStrings:windi"] = connectionString });
        var ann = await app.RegisterAsync();
        var mallory = await app.RegisterAsync();
        var bob = await app.RegisterAsync();
        var annChat = await ann.StartPrivateChatAsync(bob);
        var malloryChat = await mallory.StartPrivateChatAsync(bob);
        await using var bobWs = await bob.ConnectAsync();
        var annDevices = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => ann.ConnectAsync()));
        var malloryDevices = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => mallory.ConnectAsync()));
        const int annEach = 60, malloryEach = 40;

        // Ann's sends are all fine; every other send of Mallory's is one the database refuses.
        var annKeys = Keys("ann", annDevices.Length, annEach);
        var malloryKeys = Keys("mallory", malloryDevices.Length, malloryEach);
        static bool IsRefused(string key) => key.StartsWith("mallory", StringComparison.Ordinal) && int.Parse(key.Split('-')[^1], CultureInfo.InvariantCulture) % 2 == 0;
        static string TextOf(string key) => IsRefused(key) ? $"{Refused} {key}" : $"fine {key}";
        var sending = annDevices.Zip(annKeys).Select(d => (Chat: annChat, Ws: d.First, Keys: d.Second))
            .Concat(malloryDevices.Zip(malloryKeys).Select(d => (Chat: malloryChat, Ws: d.First, Keys: d.Second)))
            .Select(device => Task.Run(async () =>
            {
                foreach (var key in device.Keys)
                {
                    await device.Ws.SendMessageAsync(device.Chat, TextOf(key), key);
                }
            }));
        await Task.WhenAll(sending);

        // Every connection answers its own sends in order: NEW_MESSAGE, or ERROR internal for a refused one alone.
        var stored = new Dictionary<string, long>();
        foreach (var (devices, keys) in new[] { (annDevices, annKeys), (malloryDevices, malloryKeys) })
        {
            var fineFromEachDevice = keys[0].Count(k => !IsRefused(k));
            for (var d = 0; d < devices.Length; d++)
            {
                var (answers, others) = await AnswersToOwnSendsAsync(devices[d], keys[d]);
                var ids = new List<long>();
                foreach (var (key, answer) in keys[d].Zip(answers))
                {
                    if (IsRefused(key))
                    {
                        Assert.True(answer.GetProperty("command").GetString() == "ERROR", $"{key}: {answer}");
                        Assert.Equal("internal", answer.GetProperty("code").GetString());
                        Assert.Equal(key, answer.GetProperty("client_message_id").GetString());
                    }
                    else
                    {
                        Assert.True(answer.GetProperty("command").GetString() == "NEW_MESSAGE", $"{key}: {answer}");
                        Assert.Equal(key, answer.GetProperty("client_message_id").GetString());
                        ids.Add(answer.Id());
                        stored.Add(key, answer.Id());
                    }
                }
                Assert.Equal(ids.Order(), ids);
                // The rest of what the sender's other connections stored, each once.
                for (; others < (devices.Length - 1) * fineFromEachDevice; others++)
                {
                    var frame = await devices[d].ExpectAsync("NEW_MESSAGE");
                    Assert.DoesNotContain(frame.GetProperty("client_message_id").GetString(), keys[d]);
                }
            }
        }

        // Bob hears each stored message once, each connection's in the order it sent them.
        var heard = new List<JsonElement>();
        for (var i = 0; i < stored.Count; i++)
        {
            heard.Add(await bobWs.ExpectAsync("NEW_MESSAGE"));
        }
        await bobWs.ExpectNothingPendingAsync(TimeSpan.Zero);
        Assert.Equal(stored.OrderBy(s => s.Key, StringComparer.Ordinal), heard.Select(h => KeyValuePair.Create(h.GetProperty("client_message_id").GetString()!, h.Id())).OrderBy(s => s.Key, StringComparer.Ordinal));
        foreach (var keys in annKeys.Concat(malloryKeys))
        {
            var expected = keys.Where(k => !IsRefused(k)).ToList();
            Assert.Equal(expected, heard.Select(h => h.GetProperty("client_message_id").GetString()!).Where(expected.Contains));
        }

        // Stored once each, nothing refused stored; the batches really were shared, and split to find the refused sends.
        await using (var count = database.CreateCommand("SELECT count(*), count(*) FILTER (WHERE position($1 in text) > 0) FROM messages"))
        {
            count.Parameters.Add(new NpgsqlParameter { Value = Refused });
            await using var reader = await count.ExecuteReaderAsync();
            await reader.ReadAsync();
            Assert.Equal((stored.Count, 0L), (reader.GetInt64(0), reader.GetInt64(1)));
        }
        Assert.Contains(app.Logs, line => line.Contains("in halves", StringComparison.Ordinal));
        Assert.DoesNotContain(app.Logs, line => line.Contains(Refused, StringComparison.Ordinal));
        foreach (var ws in annDevices.Concat(malloryDevices))
        {
            await ws.ExpectNothingPendingAsync(TimeSpan.Zero);
            await ws.DisposeAsync();
        }
    }

    private static List<List<string>> Keys(string who, int devices, int each) =>
        [.. Enumerable.Range(0, devices).Select(d => Enumerable.Range(0, each).Select(i => $"{who}-{d}-{i}").ToList())];

    /// <summary>
    /// The answers to this connection's own sends, in order, and how many of the sender's other connections' messages
    /// came meanwhile (every connection of a member gets NEW_MESSAGE).
    /// </summary>
    private static async Task<(List<JsonElement> Answers, int Others)> AnswersToOwnSendsAsync(WsClient ws, List<string> ownKeys)
    {
        var own = new HashSet<string>(ownKeys);
        var answers = new List<JsonElement>();
        var others = 0;
        while (answers.Count < ownKeys.Count)
        {
            var frame = await ws.ReceiveAsync();
            if (frame.GetProperty("command").GetString() == "ERROR" || own.Contains(frame.GetProperty("client_message_id").GetString()!))
            {
                answers.Add(frame);
            }
            else
            {
                others++;
            }
        }
        return (answers, others);
    }
}
