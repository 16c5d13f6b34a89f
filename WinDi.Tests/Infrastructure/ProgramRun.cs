using System.Diagnostics;

namespace WinDi.Tests.Infrastructure;

/// <summary>One of the solution's programs run as its own process (as an operator starts it), until it exits.</summary>
public static class ProgramRun
{
    /// <param name="assembly">The program's dll in the test output, e.g. "WinDi.Api.dll".</param>
    /// <param name="environment">Variables to set; a null value removes one inherited from the test process.</param>
    public static async Task<(int ExitCode, string Output)> RunAsync(string assembly, IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, assembly)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output + await error);
    }
}
