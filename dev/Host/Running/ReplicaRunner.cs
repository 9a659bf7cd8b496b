using System.ComponentModel;
using System.Diagnostics;
using Platform.Sidecar;

namespace Platform.Host.Running;

internal enum ReplicaState
{
    Starting,
    Up,
    Restarting,
    Failed,
    Stopped,
}

/// <summary>How to start one replica's process; a null value in <paramref name="Env"/> removes that variable.</summary>
internal sealed record Launch(string FileName, IReadOnlyList<string> Args, string WorkingDirectory, IReadOnlyDictionary<string, string?> Env);

/// <summary>
/// One replica of a service: its process (restarted with backoff when it crashes after coming up) and the
/// sidecar that serves it, which lives in the host's process and survives the app's restarts. A replica that
/// exits before it ever came up, <see cref="MaxStartAttempts"/> times in a row, is a start-up failure: waiting
/// longer would only hide the error, so the host stops and shows its last output.
/// </summary>
internal sealed class ReplicaRunner
{
    public const int MaxStartAttempts = 3;
    private const int KeptLines = 40;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SlowStartHint = TimeSpan.FromSeconds(60);

    private readonly Launch _launch;
    private readonly Terminal _terminal;
    private readonly Action _changed;
    private readonly Action<ReplicaRunner, string> _fatal;
    private readonly Queue<string> _lastLines = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Process? _process;
    private bool _stopping;
    private Task _loop = Task.CompletedTask;

    public ReplicaRunner(string service, int index, int colorCode, int? appPort, Sidecar.SidecarHost? sidecar, Launch launch, Terminal terminal, Action changed, Action<ReplicaRunner, string> fatal)
    {
        Service = service;
        Index = index;
        ColorCode = colorCode;
        AppPort = appPort;
        Sidecar = sidecar;
        _launch = launch;
        _terminal = terminal;
        _changed = changed;
        _fatal = fatal;
    }

    public string Service { get; }

    public int Index { get; }

    /// <summary>The replica's name in logs and in APP_INSTANCE: <c>hello-1</c>.</summary>
    public string Name => $"{Service}-{Index}";

    public int ColorCode { get; }

    public int? AppPort { get; }

    public Sidecar.SidecarHost? Sidecar { get; }

    public ReplicaState State { get; private set; } = ReplicaState.Starting;

    public int? ProcessId { get; private set; }

    public int Restarts { get; private set; }

    public IReadOnlyList<string> LastLines
    {
        get
        {
            lock (_lastLines)
            {
                return [.. _lastLines];
            }
        }
    }

    public void Start() => _loop = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var failedStarts = 0;
        var crashes = 0;
        while (true)
        {
            Process process;
            lock (_gate)
            {
                if (_stopping)
                {
                    return;
                }

                lock (_lastLines)
                {
                    // What a failure report shows is this attempt's output, not a mix of attempts.
                    _lastLines.Clear();
                }

                try
                {
                    process = StartProcess();
                }
                catch (Win32Exception e)
                {
                    Set(ReplicaState.Failed);
                    _fatal(this, $"{Name} cannot be started: {_launch.FileName}: {e.Message}");
                    return;
                }

                _process = process;
            }

            ProcessId = process.Id;
            Set(ReplicaState.Starting);
            var started = Stopwatch.StartNew();
            using var exitedOrStopping = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var exited = WaitForExitAsync(process, exitedOrStopping);
            var cameUp = await WaitUntilUpAsync(exitedOrStopping.Token);
            var upAt = Stopwatch.StartNew();
            if (cameUp)
            {
                failedStarts = 0;
                Set(ReplicaState.Up);
            }

            await exited;
            var exitCode = process.ExitCode;
            lock (_gate)
            {
                _process = null;
                if (_stopping)
                {
                    // StopAsync may hold this process: it is left to the garbage collector.
                    return;
                }
            }

            process.Dispose();

            TimeSpan backoff;
            if (!cameUp)
            {
                failedStarts++;
                if (failedStarts >= MaxStartAttempts)
                {
                    Set(ReplicaState.Failed);
                    _fatal(this, $"{Name} exited during start-up {failedStarts} times in a row (last exit code {exitCode})");
                    return;
                }

                backoff = TimeSpan.FromMilliseconds(500 * (1 << (failedStarts - 1)));
                _terminal.Host($"{Name} exited with code {exitCode} during start-up after {started.Elapsed.TotalSeconds:0.0} s (attempt {failedStarts} of {MaxStartAttempts}); retrying in {backoff.TotalSeconds:0.#} s");
            }
            else
            {
                // A replica that stayed up a while starts over with a short backoff; one that keeps crashing waits longer each time.
                crashes = upAt.Elapsed > StableAfter ? 1 : crashes + 1;
                backoff = TimeSpan.FromSeconds(Math.Min(MaxBackoff.TotalSeconds, Math.Pow(2, crashes - 1)));
                _terminal.Host($"{Name} exited with code {exitCode}; restarting in {backoff.TotalSeconds:0.#} s");
            }

            Restarts++;
            Set(ReplicaState.Restarting);
            try
            {
                await Task.Delay(backoff, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task WaitForExitAsync(Process process, CancellationTokenSource exitedOrStopping)
    {
        // Waits for the exit and for the end of its output, so the last lines are all in.
        await process.WaitForExitAsync(CancellationToken.None);
        await exitedOrStopping.CancelAsync();
    }

    /// <summary>Up = the app accepts connections on its port and its sidecar is ready (subscriptions running).</summary>
    private async Task<bool> WaitUntilUpAsync(CancellationToken exitedOrStopping)
    {
        try
        {
            if (AppPort is { } port)
            {
                var waiting = Stopwatch.StartNew();
                var hinted = false;
                while (!await FreePorts.AnswersAsync(port, exitedOrStopping))
                {
                    if (!hinted && waiting.Elapsed > SlowStartHint)
                    {
                        hinted = true;
                        _terminal.Host($"{Name} has not opened port {port} after {SlowStartHint.TotalSeconds:0} s: does it listen on ASPNETCORE_URLS / PORT?");
                    }

                    await Task.Delay(100, exitedOrStopping);
                }
            }

            if (Sidecar is not null)
            {
                await Sidecar.Ready.WaitAsync(exitedOrStopping);
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private Process StartProcess()
    {
        var info = new ProcessStartInfo(_launch.FileName)
        {
            WorkingDirectory = _launch.WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in _launch.Args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in _launch.Env)
        {
            // null removes a variable this host inherited.
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Output(e.Data);
        process.ErrorDataReceived += (_, e) => Output(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Output(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > KeptLines)
            {
                _lastLines.Dequeue();
            }
        }

        _terminal.Write(Name, ColorCode, line);
    }

    /// <summary>SIGTERM, then kill after <paramref name="grace"/> (or at once when <paramref name="hurry"/> fires).</summary>
    public async Task StopAsync(TimeSpan grace, CancellationToken hurry)
    {
        Process? process;
        lock (_gate)
        {
            _stopping = true;
            process = _process;
        }

        await _stop.CancelAsync();
        if (process is not null)
        {
            try
            {
                if (!process.HasExited)
                {
                    Signals.Terminate(process);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(hurry);
                    timeout.CancelAfter(grace);
                    try
                    {
                        await process.WaitForExitAsync(timeout.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        _terminal.Host($"{Name} did not stop within {grace.TotalSeconds:0} s: killing it");
                        process.Kill(entireProcessTree: true);
                    }
                }
            }
            catch (InvalidOperationException)
            {
                // Exited and disposed by the run loop in the meantime.
            }
        }

        await _loop;
        if (State != ReplicaState.Failed)
        {
            Set(ReplicaState.Stopped);
        }
    }

    private void Set(ReplicaState state)
    {
        State = state;
        _changed();
    }
}
