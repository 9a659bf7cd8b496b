namespace Platform.Live.Follower;

/// <summary>Keeps the mirror in step (first snapshot, gaps, resyncs) and the streams alive.</summary>
public sealed class FollowerWorker(Mirror mirror, StreamHub hub, TimeProvider clock) : BackgroundService
{
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(15);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var beats = BeatAsync(stoppingToken);
        try
        {
            await mirror.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }

        await beats;
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
