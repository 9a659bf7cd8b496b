using System.Diagnostics;
using System.Net.Http.Json;
using Dapr.Client;

namespace Platform.Live.Bench;

/// <summary>
/// One scenario's processes: the sidecars (one process: upstream's, the leader's, every follower's), the leader,
/// the followers, and the publisher — the only thing of the scenario left in the bench process (a thread of its
/// own, blocking, publishing <c>solver-load</c> at the rate asked).
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    private readonly SidecarsProcess _sidecars;
    private readonly LiveProcess _leader;
    private readonly List<LiveProcess> _followers;
    private readonly DaprClient _upstream;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _publisher;
    private long _published;

    private Cluster(SidecarsProcess sidecars, LiveProcess leader, List<LiveProcess> followers, DaprClient upstream)
    {
        _sidecars = sidecars;
        _leader = leader;
        _followers = followers;
        _upstream = upstream;
    }

    public IReadOnlyList<string> FollowerUrls => _followers.Select(f => f.Url).ToList();

    public long Published => Interlocked.Read(ref _published);

    public static async Task<Cluster> StartAsync(string liveDll, string components, string work, int followerCount)
    {
        var registry = Path.Combine(work, $"registry-{Guid.NewGuid():N}"); // the first sidecar creates it, private (0700), as it must be
        var leaderPort = LiveProcess.FreePort();
        var followerPorts = Enumerable.Range(0, followerCount).Select(_ => LiveProcess.FreePort()).ToList();
        var sidecars = await SidecarsProcess.StartAsync(components, registry,
            [("bench", null), ("live-leader", leaderPort), .. followerPorts.Select(p => ("live", (int?)p))]);
        var upstreamSidecar = sidecars.For("bench", null);
        var upstream = new DaprClientBuilder().UseHttpEndpoint(upstreamSidecar.Http).UseGrpcEndpoint(upstreamSidecar.Grpc).Build();
        var leader = LiveProcess.Start(liveDll, "live-leader", "leader", leaderPort, sidecars.For("live-leader", leaderPort));
        var followers = followerPorts.Select(p => LiveProcess.Start(liveDll, "live", "follower", p, sidecars.For("live", p))).ToList();
        var cluster = new Cluster(sidecars, leader, followers, upstream);
        try
        {
            using var http = new HttpClient();
            foreach (var follower in followers)
            {
                await Until(async () => (await http.GetFromJsonAsync<Mirror>($"{follower.Url}mirror"))?.Ready == true, "a follower's first snapshot");
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>Starts publishing <paramref name="rate"/> reports a second until the cluster is disposed.</summary>
    public void StartPublisher(int rate)
    {
        _publisher = new Thread(() => Publish(rate, _stop.Token)) { IsBackground = true, Name = "publisher" };
        _publisher.Start();
    }

    // On a thread of its own, paced by the clock (a late publish does not shift the ones after it). Each publish is
    // stamped when it is due and sent without waiting for the one before (up to 64 in flight), so a slow round trip
    // to the sidecar on a busy machine does not lower the rate: upstream keeps its pace, and the delay shows in the
    // latency where it belongs.
    private void Publish(int rate, CancellationToken ct)
    {
        var interval = TimeSpan.FromSeconds(1.0 / rate);
        using var inFlight = new SemaphoreSlim(64);
        var clock = Stopwatch.StartNew();
        for (long n = 0; !ct.IsCancellationRequested; n++)
        {
            var due = interval * n - clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                Thread.Sleep(due);
            }

            inFlight.Wait(CancellationToken.None);
            var report = new { replicaId = $"solver-{n % 4}", cpu = (n % 100) / 100.0, movesPerSecond = 1e6, inFlight = 1, at = DateTimeOffset.UtcNow };
            _ = _upstream.PublishEventAsync("pubsub", "solver-load", report, CancellationToken.None).ContinueWith(t =>
            {
                inFlight.Release();
                if (t.IsCompletedSuccessfully)
                {
                    Interlocked.Increment(ref _published);
                }
                else if (!ct.IsCancellationRequested)
                {
                    Console.Error.WriteLine($"publish failed: {t.Exception?.GetBaseException().Message}");
                }
            }, TaskScheduler.Default);
        }

        for (var i = 0; i < 64; i++)
        {
            inFlight.Wait(TimeSpan.FromSeconds(10)); // the last ones land before the sidecars stop
        }
    }

    /// <summary>CPU time so far of each process of the scenario (the bench process included), by role.</summary>
    public Dictionary<string, TimeSpan> CpuTimes(ReaderProcess? readers)
    {
        var times = new Dictionary<string, TimeSpan>();
        for (var i = 0; i < _followers.Count; i++)
        {
            times[$"follower {i + 1}"] = _followers[i].CpuTime();
        }

        times["leader"] = _leader.CpuTime();
        times["sidecars"] = _sidecars.CpuTime();
        if (readers is not null)
        {
            times["readers"] = readers.CpuTime();
        }

        times["bench"] = Process.GetCurrentProcess().TotalProcessorTime;
        return times;
    }

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _publisher?.Join();
        foreach (var follower in _followers)
        {
            await follower.DisposeAsync();
        }

        await _leader.DisposeAsync();
        await _sidecars.DisposeAsync();
        _upstream.Dispose();
        _stop.Dispose();
    }

    private sealed record Mirror(bool Ready);
}
