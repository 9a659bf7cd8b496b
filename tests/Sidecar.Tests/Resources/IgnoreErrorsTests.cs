using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Tests.Resources;

/// <summary>
/// <c>spec.ignoreErrors: true</c>: a component the sidecar cannot run or cannot initialise is logged (a warning
/// naming the component, the file and the reason) and left out, and the sidecar starts without it, as daprd does
/// (dapr/dapr pkg/runtime/components.go <c>initComponentBlocking</c>). Without it the failure stops start-up.
/// </summary>
public sealed class IgnoreErrorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("platform-ignore-errors-").FullName;
    private readonly LogCollector _logs = new();

    public void Dispose()
    {
        _logs.Factory.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string WithIgnoreErrors(string yaml, string value) =>
        yaml.Replace("  version: v1\n", $"  version: v1\n  ignoreErrors: {value}\n", StringComparison.Ordinal);

    private Task<SidecarHost> StartAsync() => SidecarHost.StartAsync(new SidecarOptions
    {
        AppId = "orders",
        ResourcesPaths = [_dir],
        RegistryFolder = Path.Combine(_dir, "reg"),
        LoggerFactory = _logs.Factory,
    });

    private static async Task<string[]> ComponentNamesAsync(SidecarHost sidecar)
    {
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        var metadata = await http.GetFromJsonAsync<JsonElement>("/v1.0/metadata");
        return metadata.GetProperty("components").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).Order().ToArray();
    }

    [Fact]
    public async Task Start_KafkaWithIgnoreErrors_StartsWithoutItLoggedAndNotInMetadata()
    {
        File.WriteAllText(Path.Combine(_dir, "kafka.yaml"), WithIgnoreErrors(Yaml.Component("events", "pubsub.kafka", ("brokers", "localhost:9092")), "true"));
        File.WriteAllText(Path.Combine(_dir, "pubsub.yaml"), Yaml.Component("pubsub", "pubsub.in-memory"));

        await using var sidecar = await StartAsync();
        await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(new[] { "pubsub" }, await ComponentNamesAsync(sidecar));
        var warning = Assert.Single(_logs.Lines, l => l.Level == LogLevel.Warning && l.Text.Contains("events", StringComparison.Ordinal));
        Assert.Contains("kafka.yaml", warning.Text, StringComparison.Ordinal);
        Assert.Contains("needs the Dapr runtime", warning.Text, StringComparison.Ordinal);
        var dapr = new DaprClientBuilder().UseHttpEndpoint(sidecar.HttpEndpoint).UseGrpcEndpoint(sidecar.GrpcEndpoint).Build();
        var e = await Assert.ThrowsAsync<Dapr.DaprException>(() => dapr.PublishEventAsync("events", "t", new { a = 1 }));
        Assert.Contains("pubsub events not found", e.InnerException!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_KafkaWithoutIgnoreErrors_FailsNamingIt()
    {
        File.WriteAllText(Path.Combine(_dir, "kafka.yaml"), WithIgnoreErrors(Yaml.Component("events", "pubsub.kafka", ("brokers", "localhost:9092")), "false"));

        var e = await Assert.ThrowsAsync<ResourceException>(StartAsync);

        Assert.EndsWith("kafka.yaml", e.File, StringComparison.Ordinal);
        Assert.Contains("component 'events' of type pubsub.kafka needs the Dapr runtime", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("maybe")]
    [InlineData("\"true\"")] // a string: daprd's YAML-to-JSON decode into a bool fails
    [InlineData("[true]")]
    public async Task Start_IgnoreErrorsNotABoolean_RefusedNamingTheField(string value)
    {
        // A usable component too: the bad value is refused whether or not the component would fail.
        File.WriteAllText(Path.Combine(_dir, "state.yaml"), WithIgnoreErrors(Yaml.Component("statestore", "state.in-memory"), value));

        var e = await Assert.ThrowsAsync<ResourceException>(StartAsync);

        Assert.Equal("spec.ignoreErrors", e.Field);
        Assert.Contains("is not true or false", e.Message, StringComparison.Ordinal);
        Assert.Contains("statestore", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("True")]
    public async Task Start_IgnoreErrorsYaml11Boolean_Honoured(string value)
    {
        File.WriteAllText(Path.Combine(_dir, "kafka.yaml"), WithIgnoreErrors(Yaml.Component("events", "pubsub.kafka", ("brokers", "localhost:9092")), value));
        File.WriteAllText(Path.Combine(_dir, "pubsub.yaml"), Yaml.Component("pubsub", "pubsub.in-memory"));

        await using var sidecar = await StartAsync();

        Assert.Equal(new[] { "pubsub" }, await ComponentNamesAsync(sidecar));
    }

    [Fact]
    public async Task Start_RedisStateUnreachableWithIgnoreErrors_StartsWithoutIt()
    {
        var port = RedisServer.FreePort();
        File.WriteAllText(Path.Combine(_dir, "redis.yaml"), WithIgnoreErrors(Yaml.Component("cache", "state.redis", ("redisHost", $"127.0.0.1:{port}")), "true"));
        File.WriteAllText(Path.Combine(_dir, "state.yaml"), Yaml.Component("statestore", "state.in-memory"));

        await using var sidecar = await StartAsync();
        await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(new[] { "statestore" }, await ComponentNamesAsync(sidecar));
        var warning = Assert.Single(_logs.Lines, l => l.Level == LogLevel.Warning && l.Text.Contains("cache", StringComparison.Ordinal));
        Assert.Contains("redis.yaml", warning.Text, StringComparison.Ordinal);
        Assert.Contains($"cannot reach Redis at 127.0.0.1:{port}", warning.Text, StringComparison.Ordinal);
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        var response = await http.GetAsync("/v1.0/state/cache/k");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("ERR_STATE_STORE_NOT_FOUND", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
    }

    [Fact]
    public async Task Start_RedisStateUnreachableWithoutIgnoreErrors_Fails()
    {
        File.WriteAllText(Path.Combine(_dir, "redis.yaml"), Yaml.Component("cache", "state.redis", ("redisHost", $"127.0.0.1:{RedisServer.FreePort()}")));

        var e = await Assert.ThrowsAsync<ResourceException>(StartAsync);

        Assert.Contains("component 'cache' cannot reach Redis", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Keeps every log line the sidecar writes.</summary>
    private sealed class LogCollector : ILoggerProvider
    {
        public LogCollector() => Factory = LoggerFactory.Create(b => b.AddProvider(this).SetMinimumLevel(LogLevel.Debug));

        public ILoggerFactory Factory { get; }

        public ConcurrentQueue<(LogLevel Level, string Text)> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(Lines);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<(LogLevel, string)> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
