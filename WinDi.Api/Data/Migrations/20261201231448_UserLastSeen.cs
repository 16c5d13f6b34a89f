using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace WinDi.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class UserLastSeen : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "last_seen",
                table: "users",
                type: "timestamp with time zone",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "last_seen",
                table: "users");
        }
    }
}
