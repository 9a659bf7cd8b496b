using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Dapr.Client;
using Platform.Sidecar.PubSub;
using StackExchange.Redis;

namespace Platform.Sidecar.Bench;

internal sealed record PubSubResult(
    int Rounds, int EventsPerRound, int PublishWindow, string PublishPath, int EnvelopeBytes,
    double RawEventsPerSecond, double SidecarEventsPerSecond, double SidecarPublishPerSecond,
    IReadOnlyList<double> RawPerRound, IReadOnlyList<double> SidecarPerRound,
    double RawCpuMicros, double SidecarCpuMicros, double RawCores, double SidecarCores,
    long Duplicates, long PendingAfter, string? Error)
{
    public WarmupResult? Warmup { get; init; }

    /// <summary>One round split in two: publishing to a topic nobody subscribes, and delivering entries written straight to Redis.</summary>
    public Breakdown? Parts { get; init; }

    /// <summary>Redis commands the sidecars sent per event in B (from INFO commandstats).</summary>
    public IReadOnlyDictionary<string, double> RedisCallsPerEvent { get; init; } = new Dictionary<string, double>();

    public double Ratio => SidecarEventsPerSecond / RawEventsPerSecond;
}

internal sealed record Breakdown(double PublishOnlyPerSecond, double PublishOnlyCpuMicros, double DeliveryOnlyPerSecond, double DeliveryOnlyCpuMicros);

/// <summary>The event the publishing app sends; the subscribing app reads <c>seq</c> back out of the CloudEvent.</summary>
internal sealed record BenchEvent(int Seq, string Customer, string Note);

/// <summary>
/// Pub/sub on Redis Streams. (A) a raw loop in this process: XADD N entries (pipelined) while a consumer-group
/// reader does XREADGROUP + XACK, first XADD to last XACK. (B) the sidecar: N events published through the
/// publisher's sidecar (gRPC PublishEvent via Dapr.Client, or HTTP), delivered by the subscriber's sidecar to the
/// app's <c>/t</c>, first publish to last delivery. A and B alternate round by round.
/// </summary>
internal static class PubSubBench
{
    private const string PubSub = "pubsub";
    private const string Topic = "bench";
    private const string SubscriberId = "subscriber";

    public static async Task<PubSubResult> RunAsync(BenchOptions o, string registry, string workDir, Action<string> progress)
    {
        var executable = RedisServer.Find(o.RedisServer)
            ?? throw new InvalidOperationException("redis-server not found (looked for /usr/bin/redis-server and on PATH): apt-get install -y redis-server");
        using var redis = await RedisServer.StartAsync(executable);
        var resources = Directory.CreateDirectory(Path.Combine(workDir, "components-redis")).FullName;
        await File.WriteAllTextAsync(Path.Combine(resources, "pubsub.yaml"), $"""
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: {PubSub}
            spec:
              type: pubsub.redis
              version: v1
              metadata:
                - name: redisHost
                  value: "{redis.Endpoint}"
            """);

        var sink = new DeliverySink();
        await using var subscriberApp = await TestApp.StartAsync(web => sink.Map(web, PubSub, Topic));
        await using var subscriber = await SidecarHost.StartAsync(new SidecarOptions
        {
            AppId = SubscriberId, AppPort = subscriberApp.Port, HttpPort = 0, GrpcPort = 0,
            ResourcesPaths = [resources], RegistryFolder = registry,
        });
        await using var publisher = await SidecarHost.StartAsync(new SidecarOptions
        {
            AppId = "publisher", HttpPort = 0, GrpcPort = 0,
            ResourcesPaths = [resources], RegistryFolder = registry,
        });
        await Task.WhenAll(subscriber.Ready, publisher.Ready).WaitAsync(TimeSpan.FromSeconds(30));
        if (subscriber.Subscriptions.Count != 1)
        {
            throw new InvalidOperationException($"the subscriber sidecar has {subscriber.Subscriptions.Count} subscriptions, expected 1");
        }

        using var dapr = new DaprClientBuilder().UseGrpcEndpoint(publisher.GrpcEndpoint).UseHttpEndpoint(publisher.HttpEndpoint).Build();
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false });
        Func<string, BenchEvent, Task> publishTo = o.PublishPath == "http"
            ? async (topic, e) =>
            {
                var publishUri = new Uri($"{publisher.HttpEndpoint}/v1.0/publish/{PubSub}/{topic}");
                using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(e, JsonSerializerOptions.Web));
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await http.PostAsync(publishUri, content);
                if (!response.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"publish answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
            }
            : (topic, e) => dapr.PublishEventAsync(PubSub, topic, e);
        Func<BenchEvent, Task> publish = e => publishTo(Topic, e);

        // The raw loop stores entries of the size the sidecar stores: a CloudEvent around the same data.
        var envelope = CloudEvents.Wrap("publisher", PubSub, Topic, JsonSerializer.SerializeToUtf8Bytes(Event(0), JsonSerializerOptions.Web),
            "application/json", new Dictionary<string, string>(), null, null);
        await using var rawProducer = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        await using var rawReader = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);

        var next = 0;
        // Warm-up until the JIT settles: it re-compiles the hot paths in tiers for many seconds on 2 busy cores,
        // and the first rounds would otherwise measure the compiler.
        var warmupEvents = o.Quick ? 2_000 : 5_000;
        progress("pub/sub: warm-up");
        await RawRoundAsync(rawProducer, rawReader, "raw-warmup", warmupEvents * 2, envelope);
        string? warmupError = null;
        var warmup = await Warmup.RunAsync(async () =>
        {
            if (warmupError is null)
            {
                var (ok, _, _) = await SidecarRoundAsync(sink, publish, next, warmupEvents, o.PublishWindow);
                next += warmupEvents;
                warmupError = ok ? null : $"warm-up: {sink.Unique} of {warmupEvents} events delivered";
            }
        }, o.MinWarmup, o.PubSubWarmup, progress, "pub/sub");
        if (warmupError is not null)
        {
            return Failed(o, envelope.Length, warmupError);
        }

        var raw = new Rate();
        var viaSidecar = new Rate();
        var publishRate = new Rate();
        var commands = new Dictionary<string, long>(StringComparer.Ordinal);
        string? error = null;
        for (var round = 0; round < o.PubSubRounds && error is null; round++)
        {
            foreach (var side in round % 2 == 0 ? new[] { "raw", "sidecar" } : ["sidecar", "raw"])
            {
                progress($"pub/sub: round {round + 1}/{o.PubSubRounds} {side}");
                var cpu0 = Cpu.Now(() => redis.CpuTime);
                if (side == "raw")
                {
                    var elapsed = await RawRoundAsync(rawProducer, rawReader, $"raw-{round}", o.Events, envelope);
                    raw.Add(o.Events, elapsed, Cpu.Now(() => redis.CpuTime) - cpu0);
                    continue;
                }

                var calls0 = await CommandCallsAsync(rawProducer);
                var (delivered, total, publishing) = await SidecarRoundAsync(sink, publish, next, o.Events, o.PublishWindow);
                var cpu = Cpu.Now(() => redis.CpuTime) - cpu0;
                var calls1 = await CommandCallsAsync(rawProducer);
                foreach (var (command, count) in calls1)
                {
                    commands[command] = commands.GetValueOrDefault(command) + count - calls0.GetValueOrDefault(command);
                }
                next += o.Events;
                if (!delivered)
                {
                    error = $"round {round + 1}: only {sink.Unique} of {o.Events} events delivered within the time limit";
                    break;
                }

                viaSidecar.Add(o.Events, total, cpu);
                publishRate.Add(o.Events, publishing);
            }
        }

        Breakdown? parts = null;
        if (error is null)
        {
            progress("pub/sub: breakdown, publish only");
            var cpu0 = Cpu.Now(() => redis.CpuTime);
            var start = Stopwatch.GetTimestamp();
            await PublishAllAsync(e => publishTo(Topic + "-unsubscribed", e), next, o.Events, o.PublishWindow);
            var publishOnly = Stopwatch.GetElapsedTime(start);
            var publishCpu = Cpu.Now(() => redis.CpuTime) - cpu0;

            var entries = Enumerable.Range(next, o.Events).Select(seq => new NameValueEntry[]
            {
                new("data", CloudEvents.Wrap("publisher", PubSub, Topic, JsonSerializer.SerializeToUtf8Bytes(Event(seq), JsonSerializerOptions.Web),
                    "application/json", new Dictionary<string, string>(), null, null)),
                new("metadata", "{}"),
            }).ToArray();
            progress("pub/sub: breakdown, delivery only");
            sink.Expect(next, o.Events);
            var done = sink.AllDelivered;
            cpu0 = Cpu.Now(() => redis.CpuTime);
            start = Stopwatch.GetTimestamp();
            var db = rawProducer.GetDatabase();
            foreach (var chunk in entries.Chunk(500))
            {
                await Task.WhenAll(chunk.Select(e => db.StreamAddAsync(Topic, e)));
            }

            var end = await done.WaitAsync(TimeSpan.FromSeconds(30 + o.Events / 1000.0));
            var deliveryOnly = Stopwatch.GetElapsedTime(start, end);
            var deliveryCpu = Cpu.Now(() => redis.CpuTime) - cpu0;
            next += o.Events;
            parts = new Breakdown(o.Events / publishOnly.TotalSeconds, publishCpu.TotalMicroseconds / o.Events,
                o.Events / deliveryOnly.TotalSeconds, deliveryCpu.TotalMicroseconds / o.Events);
        }

        var pending = await PendingAfterAsync(rawProducer.GetDatabase(), TimeSpan.FromSeconds(5));
        return new PubSubResult(o.PubSubRounds, o.Events, o.PublishWindow, PublishDescription(o), envelope.Length,
            raw.PerSecond, viaSidecar.PerSecond, publishRate.PerSecond, raw.PerRound, viaSidecar.PerRound,
            raw.CpuMicrosEach, viaSidecar.CpuMicrosEach, raw.CoresBusy, viaSidecar.CoresBusy,
            sink.Duplicates, pending, error)
        {
            Warmup = warmup,
            Parts = parts,
            RedisCallsPerEvent = viaSidecar.Count == 0 ? new Dictionary<string, double>()
                : commands.Where(c => c.Value > 0).OrderByDescending(c => c.Value).ToDictionary(c => c.Key, c => (double)c.Value / viaSidecar.Count),
        };
    }

    public static string PublishDescription(BenchOptions o) => o.PublishPath == "http"
        ? "HTTP POST /v1.0/publish (HttpClient)"
        : "gRPC PublishEvent (Dapr.Client 1.19)";

    private static PubSubResult Failed(BenchOptions o, int envelopeBytes, string error) =>
        new(o.PubSubRounds, o.Events, o.PublishWindow, PublishDescription(o), envelopeBytes, double.NaN, double.NaN, double.NaN, [], [],
            double.NaN, double.NaN, double.NaN, double.NaN, 0, -1, error);

    private static BenchEvent Event(int seq) => new(seq, "bench-customer-0042", "a small order event, about the size apps publish");

    /// <summary>Publishes <paramref name="count"/> events with <paramref name="window"/> in flight; waits for the app to have every one.</summary>
    private static async Task<(bool Delivered, TimeSpan Total, TimeSpan Publishing)> SidecarRoundAsync(
        DeliverySink sink, Func<BenchEvent, Task> publish, int first, int count, int window)
    {
        sink.Expect(first, count);
        var done = sink.AllDelivered;
        var start = Stopwatch.GetTimestamp();
        await PublishAllAsync(publish, first, count, window);
        var published = Stopwatch.GetElapsedTime(start);
        var limit = TimeSpan.FromSeconds(30 + count / 1000.0);
        try
        {
            var end = await done.WaitAsync(limit);
            return (true, Stopwatch.GetElapsedTime(start, end), published);
        }
        catch (TimeoutException)
        {
            return (false, limit, published);
        }
    }

    private static Task PublishAllAsync(Func<BenchEvent, Task> publish, int first, int count, int window)
    {
        var issued = -1;
        return Task.WhenAll(Enumerable.Range(0, window).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref issued)) < count)
            {
                await publish(Event(first + i));
            }
        })));
    }

    /// <summary>XADD <paramref name="count"/> entries pipelined, while a consumer group reads and acknowledges them.</summary>
    private static async Task<TimeSpan> RawRoundAsync(ConnectionMultiplexer producer, ConnectionMultiplexer reader, string key, int count, byte[] envelope)
    {
        const string group = "g";
        var db = producer.GetDatabase();
        await db.StreamCreateConsumerGroupAsync(key, group, "0", createStream: true);
        var fields = new NameValueEntry[] { new("data", envelope), new("metadata", "{}") };

        var start = Stopwatch.GetTimestamp();
        var consume = Task.Run(async () =>
        {
            var readDb = reader.GetDatabase();
            var acks = new List<Task>();
            var received = 0;
            while (received < count)
            {
                var result = await readDb.ExecuteAsync("XREADGROUP", "GROUP", group, "c", "COUNT", 1000, "BLOCK", 1000, "STREAMS", key, ">");
                if (result.IsNull)
                {
                    continue;
                }

                foreach (var stream in (RedisResult[])result!)
                {
                    var entries = (RedisResult[])((RedisResult[])stream!)[1]!;
                    var ids = new RedisValue[entries.Length];
                    for (var i = 0; i < entries.Length; i++)
                    {
                        var entry = (RedisResult[])entries[i]!;
                        ids[i] = (RedisValue)entry[0];
                        _ = (byte[]?)((RedisResult[])entry[1]!)[1]; // the data field, as a consumer would take it
                    }

                    received += ids.Length;
                    acks.Add(db.StreamAcknowledgeAsync(key, group, ids));
                }
            }

            await Task.WhenAll(acks);
        });

        const int batch = 500;
        for (var sent = 0; sent < count; sent += batch)
        {
            var adds = new Task[Math.Min(batch, count - sent)];
            for (var i = 0; i < adds.Length; i++)
            {
                adds[i] = db.StreamAddAsync(key, fields);
            }

            await Task.WhenAll(adds);
        }

        await consume.WaitAsync(TimeSpan.FromSeconds(60));
        var elapsed = Stopwatch.GetElapsedTime(start);
        await db.KeyDeleteAsync(key);
        return elapsed;
    }

    /// <summary>Calls so far per command, from INFO commandstats (lines like <c>cmdstat_xadd:calls=12,usec=...</c>).</summary>
    private static async Task<Dictionary<string, long>> CommandCallsAsync(ConnectionMultiplexer redis)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        var info = (string?)await redis.GetDatabase().ExecuteAsync("INFO", "commandstats") ?? "";
        foreach (var line in info.Split('\n', StringSplitOptions.TrimEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (!line.StartsWith("cmdstat_", StringComparison.Ordinal) || colon < 0)
            {
                continue;
            }

            var calls = line[(colon + 1)..].Split(',').FirstOrDefault(f => f.StartsWith("calls=", StringComparison.Ordinal));
            if (calls is not null && long.TryParse(calls["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture, out var n))
            {
                result[line["cmdstat_".Length..colon].ToUpperInvariant()] = n;
            }
        }

        return result;
    }

    /// <summary>Entries of the topic still pending (delivered to the sidecar, not acknowledged) once the run settles.</summary>
    private static async Task<long> PendingAfterAsync(IDatabase db, TimeSpan wait)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var info = await db.StreamPendingAsync(Topic, SubscriberId);
            if (info.PendingMessageCount == 0 || deadline.Elapsed > wait)
            {
                return info.PendingMessageCount;
            }

            await Task.Delay(100);
        }
    }
}
