namespace WinDi.MigrationWorker;

/// <summary>Bound from the root of configuration: Seed__TestData and Migrations__DatabaseWaitSeconds.</summary>
public sealed class MigrationOptions
{
    public SeedSection Seed { get; set; } = new();
    public MigrationsSection Migrations { get; set; } = new();

    public sealed class SeedSection
    {
        /// <summary>Seed the test data (DESIGN §3). Defaults to true in Development, false elsewhere.</summary>
        public bool? TestData { get; set; }
    }

    public sealed class MigrationsSection
    {
        /// <summary>How long to wait for PostgreSQL to accept connections before giving up.</summary>
        public int DatabaseWaitSeconds { get; set; } = 60;
    }
}
