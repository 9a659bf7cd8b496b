using System.Collections.Concurrent;

namespace Platform.EndToEnd.Tests.Infrastructure;

/// <summary>
/// One service as an OS process (its sidecar lives in the test process and outlives it, as daprd outlives a
/// crashed app container). <see cref="KillAsync"/> is SIGKILL: no shutdown hooks, no flushing.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly string _name;
    private readonly string _fileName;
    private readonly IReadOnlyList<string> _arguments;
    private readonly string _workingDirectory;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    public ServiceProcess(string name, string fileName, IReadOnlyList<string> arguments, string workingDirectory, int port, IReadOnlyDictionary<string, string> environment)
    {
        _name = name;
        _fileName = fileName;
        _arguments = arguments;
        _workingDirectory = workingDirectory;
        _environment = environment;
        Port = port;
    }

    /// <summary>The app's port: the same after every restart, because its sidecar calls it there.</summary>
    public int Port { get; }

    public int Starts { get; private set; }

    /// <summary>True once the process that was started last has ended (killed, crashed or exited).</summary>
    public bool HasExited => _process is { HasExited: true };

    /// <summary>CPU time the running process has used so far (zero when none runs).</summary>
    public TimeSpan Cpu => _process is { HasExited: false } p ? p.TotalProcessorTime : TimeSpan.Zero;

    /// <summary>The last lines it wrote, for failure messages.</summary>
    public string Output => string.Join('\n', _output.TakeLast(40));

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo(_fileName)
        {
            WorkingDirectory = _workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in _arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in _environment)
        {
            start.Environment[key] = value;
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"{_name} could not be started");
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Starts++;

        // Up when it answers /alive on its own port (the harness may look at the app directly; the tests do not).
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{_name} exited with {_process.ExitCode} while starting:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{Port}/alive");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{_name} did not answer /alive on port {Port} within 60 s:\n{Output}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>SIGKILL, and wait until the process is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: false);
            await p.WaitForExitAsync();
        }
    }

    public async Task RestartAsync()
    {
        await KillAsync();
        await StartAsync();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 200)
        {
            _output.TryDequeue(out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            // Stopping, not testing: SIGTERM would be kinder, but nothing here needs a clean shutdown.
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }

        _process?.Dispose();
    }
}
