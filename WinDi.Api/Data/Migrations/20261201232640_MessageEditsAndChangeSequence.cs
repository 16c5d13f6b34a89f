using System;
using Microsoft.EntityFrameworkCore.Migrations;
using WinDi.Api.Messages;

#nullable disable

namespace WinDi.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class MessageEditsAndChangeSequence : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // This migration assigns seqs, so it takes the ordering lock first, as every such transaction does
            // (VisibleOrder); first, before any table lock, so that a running writer waits for it and never the reverse.
            migrationBuilder.Sql($"SELECT pg_advisory_xact_lock({VisibleOrder.LockKey});");

            migrationBuilder.CreateSequence(
                name: "message_seq");

            migrationBuilder.AddColumn<long>(
                name: "created_seq",
                table: "messages",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "deleted_at",
                table: "messages",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "edited_at",
                table: "messages",
                type: "timestamp with time zone",
                nullable: true);

            // Existing messages get their seq in id order: their id itself (nothing has changed them yet), and the
            // sequence goes on after the largest. The values are written by one rewrite of the table (a type change
            // USING id, which also rebuilds its indexes by sorting), not by an UPDATE: on 10 million messages the UPDATE
            // took 30 minutes and left a dead copy of every row and index entry behind; the rewrite took 2 (README).
            migrationBuilder.Sql("ALTER TABLE messages ADD COLUMN seq bigint;");
            migrationBuilder.Sql($"ALTER TABLE messages ALTER COLUMN seq TYPE bigint USING id, ALTER COLUMN seq SET NOT NULL, ALTER COLUMN seq SET DEFAULT nextval('{Message.SeqSequence}');");
            migrationBuilder.Sql($"SELECT setval('{Message.SeqSequence}', coalesce(max(seq), 0) + 1, false) FROM messages;");

            migrationBuilder.CreateIndex(
                name: "ix_messages_chat_id_seq",
                table: "messages",
                columns: new[] { "chat_id", "seq" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_messages_chat_id_seq",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "created_seq",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "deleted_at",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "edited_at",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "seq",
                table: "messages");

            migrationBuilder.DropSequence(
                name: "message_seq");
        }
    }
}
