namespace Platform.Live.Follower;

/// <summary>Keeps the mirror in step (first snapshot, gaps, resyncs), runs the fan-out and keeps the streams alive.</summary>
public sealed class FollowerWorker(Mirror mirror, StreamHub hub, TimeProvider clock) : BackgroundService
{
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(15);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var beats = BeatAsync(stoppingToken);
        var fanOut = FanOutAsync(stoppingToken);
        try
        {
            await mirror.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }

        await beats;
        await fanOut;
    }

    private async Task FanOutAsync(CancellationToken ct)
    {
        try
        {
            await Task.Yield(); // off the host's start-up path
            await hub.RunAsync(ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task BeatAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(HeartbeatEvery, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                hub.Heartbeat();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
