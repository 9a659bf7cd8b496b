using System.Diagnostics;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace Platform.Solver.Load;

/// <summary>The contract's <c>solver-load</c> payload.</summary>
public sealed record SolverLoadReported(string ReplicaId, double Cpu, double MovesPerSecond, int InFlight, DateTimeOffset At);

/// <summary>
/// Publishes this replica's load on <c>solver-load</c> about once a second: CPU as a share of one core (process CPU
/// time over wall time), moves per second over the interval, and sub-searches in flight. A failed publish is
/// logged and skipped: the next report supersedes it, so there is nothing to retry.
/// </summary>
public sealed partial class LoadReporter(DaprClient dapr, SolverLoad load, IOptions<SolverOptions> options, ILogger<LoadReporter> logger) : BackgroundService
{
    private readonly System.Diagnostics.Metrics.ObservableGauge<int> _inFlightGauge =
        SolverExtensions.Meter.CreateObservableGauge("solver.searches.in_flight", () => load.InFlight);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var process = Process.GetCurrentProcess();
        var clock = Stopwatch.StartNew();
        var lastWall = clock.Elapsed;
        var lastCpu = process.TotalProcessorTime;
        var lastMoves = load.MovesMade;
        using var timer = new PeriodicTimer(options.Value.LoadInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            process.Refresh();
            var wall = clock.Elapsed;
            var cpu = process.TotalProcessorTime;
            var moves = load.MovesMade;
            var seconds = Math.Max((wall - lastWall).TotalSeconds, 1e-3);
            var report = new SolverLoadReported(
                options.Value.ReplicaId!,
                Math.Round((cpu - lastCpu).TotalSeconds / seconds, 3),
                Math.Round((moves - lastMoves) / seconds),
                load.InFlight,
                DateTimeOffset.UtcNow);
            (lastWall, lastCpu, lastMoves) = (wall, cpu, moves);
            try
            {
                await dapr.PublishEventAsync(SolverNames.PubSub, SolverNames.LoadTopic, report, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogPublishFailed(logger, e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish solver-load: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string reason);
}
