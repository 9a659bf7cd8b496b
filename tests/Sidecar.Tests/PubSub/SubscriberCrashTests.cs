using System.Collections.Concurrent;
using System.Diagnostics;
using Dapr;

namespace Platform.Sidecar.Tests.PubSub;

/// <summary>With Redis, events a subscriber held when its process died are delivered to the replica that comes back.</summary>
[Collection(RedisCollection.Name)]
public sealed class SubscriberCrashTests(RedisServer redis)
{
    [Fact]
    public async Task KilledSubscriberSidecar_UnackedEvents_DeliveredToRestartedReplica()
    {
        await using var cluster = Cluster.Create(Backend.Redis, redis);
        var topic = $"crash-{Guid.NewGuid():N}";
        var release = new TaskCompletionSource();
        var held = new ConcurrentDictionary<string, byte>();
        var handled = new ConcurrentDictionary<string, byte>();
        var app = await cluster.StartAppAsync("billing", (web, _) => web.MapPost("/placed", async (Placed e) =>
        {
            // The first sidecar's deliveries are held open until that sidecar is killed: they are never answered.
            if (!release.Task.IsCompleted)
            {
                held[e.Id] = 0;
                await release.Task;
                return Results.StatusCode(503);
            }

            handled[e.Id] = 0;
            return Results.Ok();
        }).WithTopic("pubsub", topic));

        using var first = SidecarProcess.Start(cluster, "billing", app.Port);
        await first.WaitReadyAsync();
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));
        var ids = Enumerable.Range(0, 5).Select(i => $"e{i}").ToArray();
        foreach (var id in ids)
        {
            await dapr.PublishEventAsync("pubsub", topic, new Placed(id));
        }

        await Poll.UntilAsync(() => held.Count == ids.Length, "the first replica to hold all events");
        first.Kill();
        Assert.Equal(ids.Length, (await redis.Db.StreamPendingAsync(topic, "billing")).PendingMessageCount);
        release.SetResult();

        // A new replica of the same app-id: it claims the entries the dead one never acknowledged.
        await cluster.StartSidecarAsync("billing", app);

        await Poll.UntilAsync(() => handled.Count == ids.Length, "every held event to reach the restarted replica", TimeSpan.FromSeconds(20));
        Assert.Equal(ids.Order(), handled.Keys.Order());
        await Poll.UntilAsync(() => redis.Db.StreamPending(topic, "billing").PendingMessageCount == 0, "all entries acknowledged");
    }
}

/// <summary>The sidecar as its own process (the CLI), so a test can kill it.</summary>
public sealed class SidecarProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _output = new();

    private SidecarProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static SidecarProcess Start(Cluster cluster, string appId, int appPort)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { SidecarCli.Path(), "--app-id", appId, "--app-port", appPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dapr-http-port", "0", "--dapr-grpc-port", "0", "--resources-path", cluster.ComponentsDir, "--log-level", "warn" })
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["PLATFORM_SIDECAR_REGISTRY"] = cluster.Registry;
        return new SidecarProcess(Process.Start(start)!);
    }

    public async Task WaitReadyAsync()
    {
        var done = await Task.WhenAny(_ready.Task, _process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(30)));
        if (done != _ready.Task)
        {
            throw new InvalidOperationException("the sidecar process did not start:\n" + string.Join('\n', _output));
        }
    }

    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        if (line.StartsWith("sidecar ready:", StringComparison.Ordinal))
        {
            _ready.TrySetResult(line);
        }
    }
}
