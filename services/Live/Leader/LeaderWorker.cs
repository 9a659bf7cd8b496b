using Dapr.Client;
using Microsoft.Extensions.Options;
using Platform.Live.Views;

namespace Platform.Live.Leader;

/// <summary>
/// Where the leader's state lives: in memory, saved to the state store (one document, <c>views</c>) at most once
/// per <see cref="LiveOptions.SaveInterval"/> and on shutdown. A restarted leader loads it and continues the
/// sequence under a new epoch, so followers resync once and the views keep their history (balances need every
/// ledger event, which the leader's consumer group does not get twice). What changed in the last interval before
/// a crash can be missing from the views: they are for display; the ledger and Balances are the record.
/// </summary>
public sealed class LeaderWorker(ViewsLeader leader, DaprClient dapr, IOptions<LiveOptions> options, ILogger<LeaderWorker> logger, TimeProvider clock)
    : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the app serves anything (the sidecar only subscribes once the app answers), so no event is applied
        // to empty views. The sidecar may not be up yet: wait for it.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var saved = await dapr.GetStateAsync<Snapshot>(Components.StateStore, Components.LeaderStateKey, cancellationToken: cancellationToken);
                if (saved is not null)
                {
                    leader.Restore(saved);
                    Log.Restored(logger, saved.Seq, leader.Epoch);
                }

                break;
            }
            catch (Exception e) when (e is not OperationCanceledException && attempt < 60)
            {
                Log.SaveFailed(logger, $"loading the saved views (attempt {attempt}): {e.Message}");
                await Task.Delay(TimeSpan.FromMilliseconds(500), clock, cancellationToken);
            }
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var publishing = leader.PublishAsync(stoppingToken);
        using var timer = new PeriodicTimer(options.Value.SaveInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SaveAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }

        await SaveAsync(CancellationToken.None);
        try
        {
            await publishing;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SaveAsync(CancellationToken ct)
    {
        if (leader.Unsaved() is not { } snapshot)
        {
            return;
        }

        try
        {
            await dapr.SaveStateAsync(Components.StateStore, Components.LeaderStateKey, snapshot, cancellationToken: ct);
            leader.Saved(snapshot.Seq);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.SaveFailed(logger, e.Message);
        }
    }
}
