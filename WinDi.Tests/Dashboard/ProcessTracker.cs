using System.Globalization;
using System.Text;

namespace WinDi.Tests.Dashboard;

/// <summary>
/// Follows the processes of one run through /proc (Linux): every process whose environment holds a marker
/// variable, and every descendant of one. Descendants count because some servers overwrite their environment
/// block with their process title (redis-server does; PostgreSQL's workers too), and DCP detaches from the
/// process that started it, so neither the environment nor the process tree alone finds them all. Processes are
/// known by pid and start time, so a reused pid is not mistaken for one of them. Scans once a second in the
/// background, and on every call.
/// </summary>
public sealed class ProcessTracker : IAsyncDisposable
{
    private readonly byte[] needle;
    private readonly Lock scanning = new();
    private readonly Dictionary<(int Pid, long Start), string> seen = [];
    private readonly HashSet<(int Pid, long Start)> unmarked = [];
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    public ProcessTracker(string variable, string value)
    {
        needle = Encoding.UTF8.GetBytes($"{variable}={value}\0");
        loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                lock (scanning)
                {
                    Scan();
                }
                try
                {
                    await Task.Delay(1000, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    // Disposed.
                }
            }
        });
    }

    /// <summary>The run's processes alive now (zombies excluded: they have exited and only wait to be reaped).</summary>
    public IReadOnlyList<(int Pid, string Command)> Alive()
    {
        lock (scanning)
        {
            var now = Scan();
            return [.. seen.Where(p => now.TryGetValue(p.Key.Pid, out var stat) && stat.Start == p.Key.Start && stat.State != 'Z')
                .Select(p => (p.Key.Pid, p.Value))];
        }
    }

    /// <summary>Adds what is new, and returns every process on the machine (pid to parent, start time and state). Under the lock.</summary>
    private Dictionary<int, (int Parent, long Start, char State)> Scan()
    {
        var all = new Dictionary<int, (int Parent, long Start, char State)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && ReadStat(pid) is { } stat)
            {
                all[pid] = stat;
            }
        }
        var ours = new HashSet<int>();
        foreach (var (pid, stat) in all)
        {
            var key = (pid, stat.Start);
            if (seen.ContainsKey(key) || (!unmarked.Contains(key) && IsMarked(pid, key)))
            {
                ours.Add(pid);
            }
        }
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (pid, stat) in all)
            {
                grew |= ours.Contains(stat.Parent) && ours.Add(pid);
            }
        }
        // The command line is read again on every scan: an exec keeps the pid and start time but changes it (the local
        // PostgreSQL starts as setpriv, which execs postgres), and a scan in between must not name the server setpriv.
        foreach (var pid in ours)
        {
            if (ReadCommand(pid) is { } command)
            {
                seen[(pid, all[pid].Start)] = command;
            }
        }
        return all;
    }

    private bool IsMarked(int pid, (int, long) key)
    {
        try
        {
            if (File.ReadAllBytes($"/proc/{pid}/environ").AsSpan().IndexOf(needle) >= 0)
            {
                return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Exited meanwhile, or another user's (only when the tests do not run as root).
        }
        unmarked.Add(key);
        return false;
    }

    /// <summary>/proc/PID/stat: "pid (comm) state ppid … starttime …"; comm may hold spaces and parentheses.</summary>
    private static (int Parent, long Start, char State)? ReadStat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (int.Parse(fields[1], CultureInfo.InvariantCulture), long.Parse(fields[19], CultureInfo.InvariantCulture), fields[0][0]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? ReadCommand(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        stop.Dispose();
    }
}
