using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Templates.Tests.Infrastructure;

namespace Platform.Templates.Tests;

/// <summary>
/// A generated platform's README's first command, <c>dotnet run --project dev/Host</c> with no options, on a machine
/// with no Redis, Kafka or Pulsar: whatever <c>--broker</c> chose, the host runs every service on in-memory
/// <c>components/local</c>, comes up ("ready") with a dashboard that answers, and Ctrl+C leaves no process behind.
/// </summary>
[Collection(TemplatesCollection.Name)]
public sealed class DevHostTemplateTests(TemplateHive hive)
{
    // The run includes dev/Host's own build step (incremental when the platform was built, the whole solution when
    // not) and npm ci for fraud: generous, as the machine may be shared by several builds.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromMinutes(2);

    // Types a sidecar may load from components/local; anything else (state.redis, pubsub.kafka…) would need a server.
    private static readonly string[] InMemoryTypes = ["state.in-memory", "pubsub.in-memory"];

    [Theory]
    [InlineData("redis")]
    [InlineData("kafka")]
    [InlineData("pulsar")]
    public async Task NewPlatform_Broker_ReadmeFirstCommandRunsOnInMemoryComponentsAndStopsCleanly(string broker)
    {
        // The same generated and built platform as PlatformTemplateTests' for this broker (shared through the hive).
        var output = await hive.BuiltPlatformAsync("Contoso", "--broker", broker);

        await RunReadmeFirstCommandAsync(output, broker, []);
    }

    [Fact]
    public async Task NewService_InKafkaPlatform_ReadmeFirstCommandRunsItOnInMemoryComponentsAndStopsCleanly()
    {
        // Its own platform: adding a service changes it. Not built beforehand: the README's command builds it.
        var output = await hive.NewPlatformAsync("Contoso", "--broker", "kafka");
        await hive.NewAsync(output, "dapr-service", "-n", "Orders", "--allow-scripts", "yes");

        await RunReadmeFirstCommandAsync(output, "kafka", ["orders-1"]);
    }

    private static async Task RunReadmeFirstCommandAsync(string output, string broker, string[] mustBeUp)
    {
        // What would fail if used: tye.yaml names the broker's folder, whose pub/sub the sidecar refuses (Kafka,
        // Pulsar) or whose state store and pub/sub need Redis on localhost:6379 (checked below not to be loaded).
        Assert.Contains($"components-path: ./components/{broker}/", File.ReadAllText(Path.Combine(output, "tye.yaml")), StringComparison.Ordinal);

        await using var run = DevHostRun.Start(output);
        var dashboard = await UntilAsync(run, () => run.Lines.Any(l => l.StartsWith("[host] ready: ", StringComparison.Ordinal))
            ? run.Lines.Select(l => l.StartsWith("[host] dashboard: ", StringComparison.Ordinal) ? l["[host] dashboard: ".Length..] : null).LastOrDefault(u => u is not null)
            : null, "the ready line and the dashboard URL");

        // Its first lines say which components run and where the broker's folder is used.
        Assert.Contains(run.Lines, l => l.StartsWith("[host] ", StringComparison.Ordinal) && l.EndsWith("; components: components/local", StringComparison.Ordinal));
        Assert.Contains($"[host] components/local (in-memory) is dev/Host's default; tye.yaml names components/{broker} (what tye run uses); choose with --components local|redis|<name under components/>|tye (tye.yaml's components-path)|<folder>", run.Lines);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using (var page = await http.GetAsync(new Uri(dashboard)))
        {
            Assert.True(page.StatusCode == HttpStatusCode.OK, $"{dashboard} answered {(int)page.StatusCode}:\n{run.Output}");
        }

        // Every replica is up, and every sidecar loaded only in-memory components: no Redis (or broker) was needed.
        var status = run.Status();
        Assert.NotEmpty(status);
        Assert.All(mustBeUp, r => Assert.True(status.ContainsKey(r), $"{r} is not in the status table:\n{run.Output}"));
        foreach (var (replica, row) in status)
        {
            Assert.True(row.State == "up", $"{replica} is {row.State}:\n{run.Output}");
            var metadata = await http.GetFromJsonAsync<JsonElement>(new Uri($"http://127.0.0.1:{row.DaprHttpPort}/v1.0/metadata"));
            var types = metadata.GetProperty("components").EnumerateArray().Select(c => c.GetProperty("type").GetString() ?? "").ToList();
            Assert.Contains("state.in-memory", types);
            Assert.True(types.All(InMemoryTypes.Contains), $"the sidecar of {replica} loaded {string.Join(", ", types)}");
        }

        Assert.DoesNotContain(run.Lines, l => l.Contains("Redis is not reachable", StringComparison.Ordinal));

        // Ctrl+C: dotnet run and the host behind it exit 0, and no process of the run is left.
        run.CtrlC();
        Assert.True(await run.WaitForExitAsync(StopTimeout) == 0, $"exit code {run.ExitCode}:\n{run.Output}");
        Assert.Contains(run.Lines, l => l.StartsWith("[host] stopped ", StringComparison.Ordinal));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        List<string> left;
        while ((left = run.Leftovers()).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.True(left.Count == 0, "still running after Ctrl+C:\n" + string.Join('\n', left));
    }

    private static async Task<string> UntilAsync(DevHostRun run, Func<string?> probe, string what)
    {
        var deadline = DateTime.UtcNow + TemplateHive.Slow;
        while (true)
        {
            if (probe() is { } value)
            {
                return value;
            }

            if (run.HasExited)
            {
                Assert.Fail($"dotnet run --project dev/Host exited ({run.ExitCode}) before {what}:\n{run.Output}");
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"no {what} within {TemplateHive.Slow}:\n{run.Output}");
            }

            await Task.Delay(200);
        }
    }
}
