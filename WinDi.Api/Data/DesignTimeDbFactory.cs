using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace WinDi.Api.Data;

/// <summary>Lets `dotnet ef migrations add` build the model without a running database.</summary>
internal sealed class DesignTimeDbFactory : IDesignTimeDbContextFactory<WinDiDb>
{
    public WinDiDb CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<WinDiDb>()
        .UseNpgsql("Host=localhost;Database=windi")
        .UseSnakeCaseNamingConvention()
        .Options);
}
