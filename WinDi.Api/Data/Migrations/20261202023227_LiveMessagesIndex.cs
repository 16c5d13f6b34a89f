using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace WinDi.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class LiveMessagesIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The new index first, so that history and chat lists have one throughout; on 10 million messages it is
            // built in about 30 s, during which sends wait (README "Cost as the data grows").
            migrationBuilder.CreateIndex(
                name: "ix_messages_live_chat_id_id",
                table: "messages",
                columns: new[] { "chat_id", "id" },
                filter: "deleted_at IS NULL")
                .Annotation("Npgsql:IndexInclude", new[] { "sender_id" });

            migrationBuilder.DropIndex(
                name: "ix_messages_chat_id_id",
                table: "messages");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_messages_live_chat_id_id",
                table: "messages");

            migrationBuilder.CreateIndex(
                name: "ix_messages_chat_id_id",
                table: "messages",
                columns: new[] { "chat_id", "id" });
        }
    }
}
