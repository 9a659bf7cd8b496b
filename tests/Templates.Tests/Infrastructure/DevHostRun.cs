using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Platform.Templates.Tests.Infrastructure;

/// <summary>
/// A generated platform's <c>dotnet run --project dev/Host</c>, exactly as its README says (no options), started in a
/// session of its own (<c>setsid</c>) so that Ctrl+C can be sent the way a terminal sends it: to the whole process
/// group, <c>dotnet run</c> and the host behind it. Every process the run starts stays in that session unless it
/// leaves it, so <see cref="Leftovers"/> finds them by session, and by a working directory or command line in the
/// platform's folder for any that left.
/// </summary>
public sealed partial class DevHostRun : IAsyncDisposable
{
    private const int SigInt = 2;
    private const int SigTerm = 15;
    private const int SigKill = 9;

    private readonly Process _process;
    private readonly List<string> _lines = [];

    private DevHostRun(Process process, string folder)
    {
        _process = process;
        Folder = folder;
    }

    public string Folder { get; }

    /// <summary>The session (and process group) of the run: the pid of <c>dotnet run</c>, its leader.</summary>
    public int Session => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public string Output => string.Join('\n', Lines);

    public static DevHostRun Start(string folder)
    {
        var info = Dotnet.Start(folder, ["run", "--project", Path.Combine("dev", "Host")]);
        // setsid(1) makes dotnet the leader of a new session and process group and execs it (same pid).
        info.ArgumentList.Insert(0, info.FileName);
        info.FileName = "setsid";
        var process = new Process { StartInfo = info };
        var run = new DevHostRun(process, Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        process.OutputDataReceived += (_, e) => run.Add(e.Data);
        process.ErrorDataReceived += (_, e) => run.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return run;
    }

    /// <summary>The last status row of each replica in the host's status table.</summary>
    public IReadOnlyDictionary<string, (string Service, int? DaprHttpPort, string State)> Status()
    {
        var rows = new Dictionary<string, (string, int?, string)>();
        foreach (var match in Lines.Select(l => StatusRow().Match(l)).Where(m => m.Success))
        {
            var http = match.Groups["http"].Value;
            rows[match.Groups["replica"].Value] = (match.Groups["service"].Value, http == "-" ? null : int.Parse(http, System.Globalization.CultureInfo.InvariantCulture), match.Groups["state"].Value);
        }

        return rows;
    }

    /// <summary>
    /// Ctrl+C as a terminal sends it: SIGINT to the process group. When this test run ignores SIGINT (a shell that
    /// starts a job in the background makes it ignore SIGINT, and .NET keeps an inherited SIG_IGN), the host cannot
    /// see it: SIGTERM, which dev/Host treats the same, stands in, as in ServiceTemplateTests and Host.Tests.
    /// </summary>
    public void CtrlC()
    {
        var sigIgn = File.ReadLines($"/proc/{Session}/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))["SigIgn:".Length..].Trim();
        var signal = (Convert.ToUInt64(sigIgn, 16) & (1UL << (SigInt - 1))) != 0 ? SigTerm : SigInt;
        Assert.True(Kill(-Session, signal) == 0, $"kill(-{Session}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"dotnet run --project dev/Host did not exit within {timeout} of Ctrl+C; its output:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Processes of this run still alive: in its session, or working or named in the platform's folder.</summary>
    public List<string> Leftovers()
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid pgrp session ..." — comm may contain spaces and parentheses.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] == "Z")
                {
                    continue;
                }

                var session = int.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture);
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
                var cwd = new DirectoryInfo(Path.Combine(dir, "cwd")).LinkTarget ?? "";
                if (session == Session || cwd == Folder || cwd.StartsWith(Folder + "/", StringComparison.Ordinal) || cmdline.Contains(Folder + "/", StringComparison.Ordinal))
                {
                    found.Add($"{pid} (session {session}, in {cwd}): {cmdline}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                // Gone while we looked, or not ours to read.
            }
        }

        return found;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill(-Session, SigKill);
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            lock (_lines)
            {
                _lines.Add(line);
            }
        }
    }

    // A row of dev/Host's status table: service, replica, pid, app port, dapr http, dapr grpc, state, restarts.
    [GeneratedRegex(@"^\s{2}(?<service>\S+)\s+(?<replica>\S+-\d+)\s+(\d+|-)\s+(\d+|-)\s+(?<http>\d+|-)\s+(\d+|-)\s+(?<state>starting|up|restarting|failed|stopped)\s+(\d+)$")]
    private static partial Regex StatusRow();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
