using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace Platform.Sidecar.Bench;

internal sealed record InvocationResult(
    int Rounds, int RequestsPerRound, int Concurrency, int BodyBytes,
    double DirectP50, double DirectP99, double SidecarP50, double SidecarP99,
    double DirectRps, double SidecarRps, IReadOnlyList<double> DirectRpsPerRound, IReadOnlyList<double> SidecarRpsPerRound,
    WarmupResult Warmup)
{
    public double AddedP50 => SidecarP50 - DirectP50;

    public double AddedP99 => SidecarP99 - DirectP99;

    public double LatencyRatioP50 => SidecarP50 / DirectP50;

    public double ThroughputRatio => SidecarRps / DirectRps;
}

/// <summary>
/// Service invocation: (A) the client calls the echo app directly; (B) the client calls the caller's sidecar,
/// which forwards to the callee's sidecar, which calls the app. One HttpClient for both; A and B alternate
/// round by round (the order flipping every round), so drift of the machine hits both alike.
/// </summary>
internal static class InvocationBench
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"orderId":42,"customer":"bench","items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"echo me"}""");

    public static async Task<InvocationResult> RunAsync(BenchOptions o, string registry, string emptyResources, Action<string> progress)
    {
        await using var echo = await TestApp.StartEchoAsync();
        await using var callee = await SidecarHost.StartAsync(new SidecarOptions
        {
            AppId = "callee", AppPort = echo.Port, HttpPort = 0, GrpcPort = 0,
            ResourcesPaths = [emptyResources], RegistryFolder = registry,
        });
        await using var caller = await SidecarHost.StartAsync(new SidecarOptions
        {
            AppId = "caller", HttpPort = 0, GrpcPort = 0,
            ResourcesPaths = [emptyResources], RegistryFolder = registry,
        });
        await Task.WhenAll(callee.Ready, caller.Ready).WaitAsync(TimeSpan.FromSeconds(30));

        using var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        });
        var direct = new Uri($"{echo.BaseAddress}/echo");
        var viaSidecars = new Uri($"{caller.HttpEndpoint}/v1.0/invoke/callee/method/echo");

        progress("invocation: warm-up");
        var warmup = await Warmup.RunAsync(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                await CallAsync(client, direct);
                await CallAsync(client, viaSidecars);
            }

            await ThroughputAsync(client, direct, o.Concurrency, TimeSpan.FromMilliseconds(200));
            await ThroughputAsync(client, viaSidecars, o.Concurrency, TimeSpan.FromMilliseconds(200));
        }, o.MinWarmup, o.InvocationWarmup, progress, "invocation");

        var a = new Samples();
        var b = new Samples();
        for (var round = 0; round < o.LatencyRounds; round++)
        {
            progress($"invocation: latency round {round + 1}/{o.LatencyRounds}");
            foreach (var (uri, samples) in round % 2 == 0 ? new[] { (direct, a), (viaSidecars, b) } : [(viaSidecars, b), (direct, a)])
            {
                for (var i = 0; i < o.LatencyRequests; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    await CallAsync(client, uri);
                    samples.Add(start, Stopwatch.GetTimestamp());
                }
            }
        }

        var ra = new Rate();
        var rb = new Rate();
        for (var round = 0; round < o.ThroughputRounds; round++)
        {
            progress($"invocation: throughput round {round + 1}/{o.ThroughputRounds}");
            foreach (var (uri, rate) in round % 2 == 0 ? new[] { (direct, ra), (viaSidecars, rb) } : [(viaSidecars, rb), (direct, ra)])
            {
                var (count, elapsed) = await ThroughputAsync(client, uri, o.Concurrency, o.ThroughputSlice);
                rate.Add(count, elapsed);
            }
        }

        return new InvocationResult(o.LatencyRounds, o.LatencyRequests, o.Concurrency, Body.Length,
            a.Percentile(50), a.Percentile(99), b.Percentile(50), b.Percentile(99),
            ra.PerSecond, rb.PerSecond, ra.PerRound, rb.PerRound, warmup);
    }

    private static async Task CallAsync(HttpClient client, Uri uri)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST {uri} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        var echoed = await response.Content.ReadAsByteArrayAsync();
        if (echoed.Length != Body.Length)
        {
            throw new InvalidOperationException($"POST {uri} echoed {echoed.Length} bytes, sent {Body.Length}");
        }
    }

    private static async Task<(long Count, TimeSpan Elapsed)> ThroughputAsync(HttpClient client, Uri uri, int concurrency, TimeSpan slice)
    {
        long count = 0;
        var start = Stopwatch.GetTimestamp();
        var stopAt = start + (long)(slice.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                await CallAsync(client, uri);
                Interlocked.Increment(ref count);
            }
        }));
        await Task.WhenAll(workers);
        return (count, Stopwatch.GetElapsedTime(start));
    }
}
