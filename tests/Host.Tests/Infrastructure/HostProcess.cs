using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Platform.Host.Tests.Infrastructure;

/// <summary>One row of the host's status table.</summary>
public sealed record StatusRow(string Service, string Replica, int? Pid, int? AppPort, int? DaprHttpPort, int? DaprGrpcPort, string State, int Restarts);

/// <summary>
/// dev/Host run as the developer runs it — <c>dotnet Platform.Host.dll</c>, a child process — with its output
/// collected. Every process it starts inherits a marker variable unique to this run, so the test can find any
/// process of the run left behind, even one re-parented after the host exited.
/// </summary>
public sealed partial class HostProcess : IAsyncDisposable
{
    public const string MarkerVariable = "PLATFORM_HOST_TEST_RUN";
    public const int SigInt = 2;
    public const int SigTerm = 15;

    private readonly Process _process;
    private readonly List<string> _lines = [];

    private HostProcess(Process process, string marker)
    {
        _process = process;
        Marker = marker;
    }

    public string Marker { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

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

    public static HostProcess Start(params string[] args)
    {
        Assert.True(File.Exists(Repo.HostDll), $"{Repo.HostDll} is missing: build the solution in {Repo.Configuration} first");
        var info = new ProcessStartInfo(Dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        info.ArgumentList.Add(Repo.HostDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var marker = Guid.NewGuid().ToString("N");
        info.Environment[MarkerVariable] = marker;
        info.Environment["NO_COLOR"] = "1";
        var process = new Process { StartInfo = info };
        var host = new HostProcess(process, marker);
        process.OutputDataReceived += (_, e) => host.Add(e.Data);
        process.ErrorDataReceived += (_, e) => host.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    private static string Dotnet =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : "dotnet";

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

    /// <summary>The latest row of every replica in the status tables printed so far.</summary>
    public IReadOnlyDictionary<string, StatusRow> Status()
    {
        var rows = new Dictionary<string, StatusRow>(StringComparer.Ordinal);
        foreach (var line in Lines)
        {
            var m = RowPattern().Match(line);
            if (m.Success)
            {
                rows[m.Groups[2].Value] = new StatusRow(m.Groups[1].Value, m.Groups[2].Value, Int(m.Groups[3].Value), Int(m.Groups[4].Value),
                    Int(m.Groups[5].Value), Int(m.Groups[6].Value), m.Groups[7].Value, int.Parse(m.Groups[8].Value, System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return rows;

        static int? Int(string text) => text == "-" ? null : int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Polls the status table until <paramref name="ready"/> holds; fails early, with the output, if the host exits.</summary>
    public Task<IReadOnlyDictionary<string, StatusRow>> WaitForStatusAsync(Func<IReadOnlyDictionary<string, StatusRow>, bool> ready, string what, TimeSpan timeout) =>
        Poll.UntilAsync<IReadOnlyDictionary<string, StatusRow>>(() =>
        {
            var status = Status();
            if (ready(status))
            {
                return Task.FromResult<IReadOnlyDictionary<string, StatusRow>?>(status);
            }

            Assert.False(_process.HasExited, $"the host exited (code {(_process.HasExited ? _process.ExitCode : 0)}) before {what}:\n{Output}");
            return Task.FromResult<IReadOnlyDictionary<string, StatusRow>?>(null);
        }, $"{what}; output so far:\n{Output}", timeout);

    public void Signal(int signal) => Assert.Equal(0, Kill(_process.Id, signal));

    /// <summary>Whether this process ignores a signal (a shell starting a background job makes it ignore SIGINT).</summary>
    public bool Ignores(int signal)
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (signal - 1))) != 0;
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
            Assert.Fail($"the host did not exit within {timeout.TotalSeconds:0} s; output:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Every running process (other than this test) whose environment carries this run's marker.</summary>
    public IReadOnlyList<string> ProcessesOfThisRun()
    {
        var found = new List<string>();
        var needle = $"{MarkerVariable}={Marker}";
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var environ = File.ReadAllText(Path.Combine(dir, "environ"));
                if (environ.Split('\0').Contains(needle) && !IsZombie(dir))
                {
                    found.Add($"{pid}: {File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ')}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone while we looked, or not ours to read.
            }
        }

        return found;

        static bool IsZombie(string dir) => File.ReadAllText(Path.Combine(dir, "stat")).Split(") ")[^1].StartsWith('Z');
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"^\s{2}(\S+)\s+(\S+-\d+)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+(starting|up|restarting|failed|stopped)\s+(\d+)$")]
    private static partial Regex RowPattern();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
