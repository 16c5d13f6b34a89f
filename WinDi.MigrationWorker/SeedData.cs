using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using WinDi.Api.Chats;
using WinDi.Api.Data;
using WinDi.Api.Messages;
using WinDi.Api.Users;

namespace WinDi.MigrationWorker;

/// <summary>
/// The test data of DESIGN §3: three people, two private chats and a group, with a few messages, so a
/// newcomer who logs in as Alice sees a living app. Every row is looked up before it is added, so a
/// second run adds nothing; on a fresh database the users get ids 1, 2 and 3.
/// </summary>
public static class SeedData
{
    public static readonly IReadOnlyList<(string Name, string Email, string Password)> People =
    [
        ("Alice Wright", "alice.wright87@example.com", "Zx7!pTn9vR"),
        ("Ben Stevens", "ben.stevens55@example.com", "uJ2#kLo8bW"),
        ("Carla James", "carla.james22@example.com", "M@5pQx3eTu"),
    ];

    public const string TeamName = "WinDi Team";

    public static async Task<int> ApplyAsync(WinDiDb db, CancellationToken ct)
    {
        var strategy = db.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(async () =>
        {
            db.ChangeTracker.Clear();
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            // Same lock as live sends: seeded ids must not interleave with messages being sent.
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({VisibleOrder.LockKey})", ct);
            var added = await ApplyInTransactionAsync(db, ct);
            await transaction.CommitAsync(ct);
            return added;
        });
    }

    private static async Task<int> ApplyInTransactionAsync(WinDiDb db, CancellationToken ct)
    {
        var added = 0;
        var hasher = new PasswordHasher<User>();
        var users = new List<User>();
        foreach (var (name, email, password) in People)
        {
            var normalized = User.Normalize(email);
            var user = await db.Users.SingleOrDefaultAsync(u => u.NormalizedEmail == normalized, ct);
            if (user is null)
            {
                user = new User { Name = name, Email = email, NormalizedEmail = normalized, PasswordHash = "" };
                user.PasswordHash = hasher.HashPassword(user, password);
                db.Users.Add(user);
                await db.SaveChangesAsync(ct);
                added++;
            }
            users.Add(user);
        }
        var (alice, ben, carla) = (users[0], users[1], users[2]);

        var aliceBen = await PrivateChat(db, alice, ben, ct);
        var aliceCarla = await PrivateChat(db, alice, carla, ct);
        var team = await db.Chats.FirstOrDefaultAsync(c => c.IsGroup && c.Name == TeamName, ct);
        if (team is null)
        {
            team = new Chat { Name = TeamName, IsGroup = true, Members = [.. users.Select(u => new ChatMember { UserId = u.Id })] };
            db.Chats.Add(team);
            await db.SaveChangesAsync(ct);
            added++;
        }

        (Chat Chat, User From, string Text)[] conversation =
        [
            (aliceBen, alice, "Hi Ben! WinDi is up and running."),
            (aliceBen, ben, "Nice! Messages arrive instantly."),
            (aliceCarla, carla, "Alice, can you review the read receipts today?"),
            (aliceCarla, alice, "Sure, after lunch."),
            (team, alice, "Welcome to the WinDi Team chat, everyone."),
            (team, ben, "Hello team!"),
            (team, carla, "Hi all, glad to be here."),
        ];
        var ids = new List<long>();
        for (var i = 0; i < conversation.Length; i++)
        {
            var (chat, from, text) = conversation[i];
            var key = $"seed-{i + 1}";
            var message = await db.Messages.SingleOrDefaultAsync(m => m.SenderId == from.Id && m.ClientMessageId == key, ct);
            if (message is null)
            {
                message = new Message { ChatId = chat.Id, SenderId = from.Id, Text = text, ClientMessageId = key };
                db.Messages.Add(message);
                await db.SaveChangesAsync(ct);
                added++;
            }
            ids.Add(message.Id);
        }

        // Read receipts: Ben has read Alice's greeting, Alice has read Carla's question, and everyone but
        // Alice has read the group up to Ben's hello. Markers only move forward, so a rerun changes nothing.
        await MarkRead(db, aliceBen.Id, ben.Id, ids[0], ct);
        await MarkRead(db, aliceCarla.Id, alice.Id, ids[2], ct);
        await MarkRead(db, team.Id, carla.Id, ids[5], ct);
        await MarkRead(db, team.Id, ben.Id, ids[4], ct);
        return added;
    }

    private static async Task<Chat> PrivateChat(WinDiDb db, User a, User b, CancellationToken ct)
    {
        var (low, high) = Chat.PrivatePair(a.Id, b.Id);
        var chat = await db.Chats.SingleOrDefaultAsync(c => c.PrivateLowUserId == low && c.PrivateHighUserId == high, ct);
        if (chat is null)
        {
            chat = new Chat { PrivateLowUserId = low, PrivateHighUserId = high, Members = [new ChatMember { UserId = a.Id }, new ChatMember { UserId = b.Id }] };
            db.Chats.Add(chat);
            await db.SaveChangesAsync(ct);
        }
        return chat;
    }

    private static Task<int> MarkRead(WinDiDb db, long chatId, long userId, long messageId, CancellationToken ct) =>
        db.ChatMembers.Where(m => m.ChatId == chatId && m.UserId == userId && m.LastReadMessageId < messageId)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LastReadMessageId, messageId), ct);
}
