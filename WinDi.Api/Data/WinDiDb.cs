using Microsoft.EntityFrameworkCore;
using WinDi.Api.Auth;
using WinDi.Api.Chats;
using WinDi.Api.Messages;
using WinDi.Api.Users;

namespace WinDi.Api.Data;

public sealed class WinDiDb(DbContextOptions<WinDiDb> options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();
    public DbSet<Chat> Chats => Set<Chat>();
    public DbSet<ChatMember> ChatMembers => Set<ChatMember>();
    public DbSet<Message> Messages => Set<Message>();
    public DbSet<Session> Sessions => Set<Session>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        // One sequence of changes (new messages, edits, deletes) for the whole database: SYNC after_seq (VisibleOrder).
        modelBuilder.HasSequence<long>(Message.SeqSequence);

        modelBuilder.Entity<User>(user =>
        {
            user.Property(u => u.Name).HasMaxLength(50);
            user.Property(u => u.Email).HasMaxLength(254);
            user.Property(u => u.NormalizedEmail).HasMaxLength(254);
            user.Property(u => u.CreatedAt).HasDefaultValueSql("now()");
            user.HasIndex(u => u.NormalizedEmail).IsUnique();
            // Prefix search (GET /users?search=) also has expression indexes, created in the migration's SQL.
        });

        modelBuilder.Entity<Chat>(chat =>
        {
            chat.Property(c => c.Name).HasMaxLength(100);
            chat.Property(c => c.CreatedAt).HasDefaultValueSql("now()");
            chat.HasIndex(c => new { c.PrivateLowUserId, c.PrivateHighUserId }).IsUnique();
            chat.ToTable(t => t.HasCheckConstraint("ck_chats_private_pair",
                "(is_group AND private_low_user_id IS NULL AND private_high_user_id IS NULL) OR " +
                "(NOT is_group AND private_low_user_id < private_high_user_id)"));
        });

        modelBuilder.Entity<ChatMember>(member =>
        {
            member.HasKey(m => new { m.ChatId, m.UserId });
            member.Property(m => m.JoinedAt).HasDefaultValueSql("now()");
            member.HasIndex(m => m.UserId);
            member.HasOne(m => m.Chat).WithMany(c => c.Members).HasForeignKey(m => m.ChatId);
            member.HasOne(m => m.User).WithMany().HasForeignKey(m => m.UserId);
        });

        modelBuilder.Entity<Message>(message =>
        {
            message.Property(m => m.Text).HasMaxLength(Message.MaxTextLength);
            message.Property(m => m.ClientMessageId).HasMaxLength(Message.MaxClientMessageIdLength);
            message.Property(m => m.CreatedAt).HasDefaultValueSql("now()");
            // Every insert draws its seq here, in the same statement and order as its id; edits and deletes draw a new one.
            message.Property(m => m.Seq).HasDefaultValueSql($"nextval('{Message.SeqSequence}')");
            message.HasIndex(m => new { m.SenderId, m.ClientMessageId }).IsUnique();
            // The messages not deleted, per chat in id order: history paging, SYNC after_id, the last message per chat,
            // and unread counts from the index alone (sender_id is in it). Deleted messages are in no such query, so they
            // are not in this index either (README "Cost as the data grows").
            message.HasIndex(m => new { m.ChatId, m.Id }).HasDatabaseName("ix_messages_live_chat_id_id")
                .HasFilter("deleted_at IS NULL").IncludeProperties(m => m.SenderId);
            // SYNC after_seq: the changes of each of the caller's chats after a seq, in seq order (MessageSync).
            message.HasIndex(m => new { m.ChatId, m.Seq });
            message.HasOne(m => m.Chat).WithMany(c => c.Messages).HasForeignKey(m => m.ChatId);
            message.HasOne<User>().WithMany().HasForeignKey(m => m.SenderId);
        });

        modelBuilder.Entity<Session>(session =>
        {
            // Ids come from the API (Guid.CreateVersion7: time-ordered for the index), since the refresh token carries its session's id.
            session.Property(s => s.Id).ValueGeneratedNever();
            session.Property(s => s.CreatedAt).HasDefaultValueSql("now()");
            session.Property(s => s.LastUsedAt).HasDefaultValueSql("now()");
            session.Property(s => s.RefreshHash).HasMaxLength(32);
            // A refresh is one lookup by the token's hash.
            session.HasIndex(s => s.RefreshHash).IsUnique();
            // GET /sessions, and clearing a user's ended sessions at login.
            session.HasIndex(s => s.UserId);
            // A user deleted by hand takes their sessions along (and so every token of theirs stops working).
            session.HasOne<User>().WithMany().HasForeignKey(s => s.UserId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
