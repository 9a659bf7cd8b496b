using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Platform.Host.Tests.Infrastructure;

namespace Platform.Host.Tests;

/// <summary>
/// dev/Host end to end, as a child process on a tye file written for the test: services/Hello at two replicas
/// answering through a sidecar, a crashed replica restarted, Ctrl+C leaving nothing behind, and the ways a run
/// must refuse to start. The solution is built beforehand (test.sh does; dotnet test builds the references).
/// </summary>
public sealed class HostRunTests : IDisposable
{
    // A Kafka pub/sub: dev/Sidecar cannot run it (no broker here), so a run that uses it stops with the sidecar's reason.
    private const string KafkaPubSub = """
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: pubsub
        spec:
          type: pubsub.kafka
          version: v1
          metadata:
            - name: brokers
              value: localhost:9092
            - name: authType
              value: none
        """;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("host-tests-");

    public void Dispose() => _dir.Delete(recursive: true);

    // These tests' tye.yaml lives in a temp folder without components/local and names the repository's in its
    // components-path: they run with --components tye (use what tye.yaml says), which dev/Host needs to be told.

    // The binding named "dashboard" is the host's convention for "print this service's URL when it is up".
    private string HelloTye(int replicas) => Write("tye.yaml", $"""
        name: hello-test
        extensions:
          - name: dapr
            components-path: {Path.Combine(Repo.Root, "components", "local")}
        services:
          - name: hello
            project: {Path.Combine(Repo.Root, "services", "Hello", "Hello.csproj")}
            replicas: {replicas}
            bindings:
              - name: dashboard
                protocol: http
        """);

    [Fact]
    public async Task Run_TwoHelloReplicas_AnswerThroughSidecarRestartAfterCrashAndStopCleanlyOnSigint()
    {
        await using var host = HostProcess.Start("--file", HelloTye(replicas: 2), "--no-build", "-c", Repo.Configuration, "--components", "tye");

        var status = await host.WaitForStatusAsync(
            s => s.Count == 2 && s.Values.All(r => r.State == "up"), "both replicas up", StartTimeout);
        Assert.All(status.Values, r => Assert.NotNull(r.Pid));
        Assert.Equal(2, status.Values.Select(r => r.DaprHttpPort).Distinct().Count());
        await Poll.UntilAsync(() => Task.FromResult(host.Lines.FirstOrDefault(l => l.StartsWith("[host] ready: 2 replica(s) of 1 service(s) up", StringComparison.Ordinal))), "the ready line", StartTimeout);
        await Poll.UntilAsync(() => Task.FromResult(host.Lines.FirstOrDefault(l => l == $"[host] dashboard: http://127.0.0.1:{status["hello-1"].AppPort}/")), "the dashboard URL", StartTimeout);

        // Through the first replica's sidecar: invocation round-robins over both replicas, each counting in the state store.
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{status["hello-1"].DaprHttpPort}") };
        var greetings = await AnswersFromAsync(http, ["hello-1", "hello-2"]);
        Assert.All(greetings.GroupBy(g => g.Instance), answers => Assert.Equal(answers.Select(g => g.Count).Order(), answers.Select(g => g.Count)));
        Assert.All(greetings, g => Assert.True(g.Count >= 1));
        var countBeforeCrash = greetings.Where(g => g.Instance == "hello-2").Max(g => g.Count);

        // The sidecars waited for their apps (no placeholder answered for them) and everything went through cleanly.
        Assert.DoesNotContain(host.Lines, l => l.Contains(" dapr] warn:", StringComparison.Ordinal) || l.Contains(" dapr] error:", StringComparison.Ordinal));

        // A replica that crashes is restarted (and counted); its sidecar waits for it and serves it again.
        var pids = status.Values.Select(r => r.Pid!.Value).ToHashSet();
        Process.GetProcessById(status["hello-2"].Pid!.Value).Kill();
        var restarted = await host.WaitForStatusAsync(
            s => s["hello-2"] is { State: "up", Restarts: 1 } r && r.Pid != status["hello-2"].Pid, "hello-2 restarted", StartTimeout);
        pids.Add(restarted["hello-2"].Pid!.Value);
        Assert.Contains(host.Lines, l => l.StartsWith("[host] hello-2 exited with code", StringComparison.Ordinal) && l.Contains("restarting in", StringComparison.Ordinal));
        // The count lives in the state store behind the sidecar, not in the app: it goes on where it was.
        var afterRestart = await AnswersFromAsync(http, ["hello-2"]);
        Assert.True(afterRestart.Where(g => g.Instance == "hello-2").Min(g => g.Count) > countBeforeCrash);

        // Ctrl+C: apps stop first, then sidecars; the host exits 0 and nothing of this run is left running.
        host.Signal(host.Ignores(HostProcess.SigInt) ? HostProcess.SigTerm : HostProcess.SigInt);
        Assert.Equal(0, await host.WaitForExitAsync(StopTimeout));
        Assert.Contains("[host] stopped 2 app process(es) and 2 sidecar(s)", host.Lines);
        var stopping = host.Lines.ToList().FindIndex(l => l.StartsWith("[host] stopping: apps first", StringComparison.Ordinal));
        Assert.True(stopping >= 0, host.Output);
        Assert.All(pids, pid => Assert.False(IsRunning(pid), $"app process {pid} is still running"));
        Assert.Empty(host.ProcessesOfThisRun());
        Assert.All(restarted.Values, r => Assert.False(Answers(r.DaprHttpPort!.Value), $"sidecar port {r.DaprHttpPort} still answers"));
    }

    [Fact]
    public async Task Run_ServiceThatFailsAtStartup_StopsEverythingAndShowsItsLastOutput()
    {
        var tye = Write("tye.yaml", $"""
            name: broken-test
            extensions:
              - name: dapr
                components-path: {Path.Combine(Repo.Root, "components", "local")}
            services:
              - name: broken
                executable: dotnet
                args: ./no-such-app.dll
                bindings:
                  - protocol: http
            """);
        await using var host = HostProcess.Start("--file", tye, "--no-build", "-c", Repo.Configuration, "--components", "tye");

        Assert.Equal(1, await host.WaitForExitAsync(StartTimeout));
        var lines = host.Lines.ToList();
        var report = lines.FindIndex(l => l.StartsWith("[host] broken-1 exited during start-up 3 times in a row", StringComparison.Ordinal));
        Assert.True(report >= 0, host.Output);
        Assert.Contains("Last output of broken-1:", lines[report], StringComparison.Ordinal);
        var lastOutput = lines.Skip(report + 1).TakeWhile(l => l.StartsWith("    | ", StringComparison.Ordinal)).ToList();
        Assert.Contains(lastOutput, l => l.Contains("no-such-app.dll", StringComparison.Ordinal));
        Assert.Equal(3, lines.Count(l => l.StartsWith("[broken-1] ", StringComparison.Ordinal) && l.Contains("no-such-app.dll", StringComparison.Ordinal)));
        Assert.Equal("broken", host.Status()["broken-1"].Service);
        Assert.Equal("failed", host.Status()["broken-1"].State);
        Assert.Contains("[host] stopped 1 app process(es) and 1 sidecar(s)", lines);
        Assert.Empty(host.ProcessesOfThisRun());
    }

    // A Node package as an executable service (like services/fraud): the host runs `npm ci` (no node_modules yet)
    // and `npm run build` before starting it, and it answers through its sidecar on the PORT it was given.
    private string NodeTye(string buildScript)
    {
        var package = Directory.CreateDirectory(Path.Combine(_dir.FullName, "pkg"));
        File.WriteAllText(Path.Combine(package.FullName, "package.json"), $$"""
            { "name": "node-app", "version": "1.0.0", "private": true, "scripts": { "build": "{{buildScript}}" } }
            """);
        File.WriteAllText(Path.Combine(package.FullName, "package-lock.json"), """
            { "name": "node-app", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
              "packages": { "": { "name": "node-app", "version": "1.0.0" } } }
            """);
        File.WriteAllText(Path.Combine(package.FullName, "build.js"), """
            const fs = require("fs");
            fs.mkdirSync("dist", { recursive: true });
            fs.writeFileSync("dist/app.js", `require("http").createServer((q, r) => r.end("built by npm run build")).listen(+process.env.PORT, "127.0.0.1");`);
            """);
        return Write("tye.yaml", $"""
            name: node-test
            extensions:
              - name: dapr
                components-path: {Path.Combine(Repo.Root, "components", "local")}
            services:
              - name: nodeapp
                executable: node
                args: dist/app.js
                workingDirectory: pkg
                bindings:
                  - protocol: http
            """);
    }

    [Fact]
    public async Task Run_NodePackage_IsInstalledBuiltAndAnswersThroughItsSidecar()
    {
        await using var host = HostProcess.Start("--file", NodeTye("node build.js"), "-c", Repo.Configuration, "--components", "tye");

        var status = await host.WaitForStatusAsync(s => s.Count == 1 && s["nodeapp-1"].State == "up", "nodeapp up", StartTimeout);
        Assert.Contains("[host] npm ci --no-audit --no-fund in pkg", host.Lines);
        Assert.Contains("[host] npm run build in pkg", host.Lines);
        using var http = new HttpClient();
        var answer = await http.GetStringAsync(new Uri($"http://127.0.0.1:{status["nodeapp-1"].DaprHttpPort}/v1.0/invoke/nodeapp/method/hi"));
        Assert.Equal("built by npm run build", answer);

        host.Signal(host.Ignores(HostProcess.SigInt) ? HostProcess.SigTerm : HostProcess.SigInt);
        Assert.Equal(0, await host.WaitForExitAsync(StopTimeout));
        Assert.Empty(host.ProcessesOfThisRun());
    }

    [Fact]
    public async Task Run_NodePackageWhoseBuildFails_ShowsTheErrorAndStartsNothing()
    {
        await using var host = HostProcess.Start("--file", NodeTye("node -e \\\"console.error('tsc: error TS2322 in main.ts'); process.exit(2)\\\""), "-c", Repo.Configuration, "--components", "tye");

        Assert.Equal(1, await host.WaitForExitAsync(StartTimeout));
        Assert.Contains("[host] npm run build in pkg failed (exit code 2):", host.Lines);
        Assert.Contains(host.Lines, l => l.Contains("tsc: error TS2322 in main.ts", StringComparison.Ordinal));
        Assert.Contains("[host] the build failed: nothing was started", host.Lines);
        Assert.Empty(host.Status());
        Assert.Empty(host.ProcessesOfThisRun());
    }

    [Fact]
    public async Task Run_ProjectThatDoesNotCompile_ShowsTheErrorAndStartsNothing()
    {
        var project = Directory.CreateDirectory(Path.Combine(_dir.FullName, "Broken"));
        File.WriteAllText(Path.Combine(project.FullName, "Broken.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
              </PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(project.FullName, "Program.cs"), "System.Console.WriteLine(\"unterminated);\n");
        var tye = Write("tye.yaml", """
            name: build-test
            services:
              - name: broken
                project: Broken/Broken.csproj
            """);
        await using var host = HostProcess.Start("--file", tye, "-c", Repo.Configuration);

        Assert.Equal(1, await host.WaitForExitAsync(StartTimeout));
        Assert.Contains(host.Lines, l => l.StartsWith("[host] build of Broken/Broken.csproj failed", StringComparison.Ordinal));
        Assert.Contains(host.Lines, l => l.Contains("Program.cs", StringComparison.Ordinal) && l.Contains("error CS", StringComparison.Ordinal));
        Assert.Contains("[host] the build failed: nothing was started", host.Lines);
        Assert.Empty(host.Status());
        Assert.Empty(host.ProcessesOfThisRun());
    }

    [Fact]
    public async Task Run_RedisComponentsWithoutRedis_SaysHowToInstallAndStartIt()
    {
        var port = FreePort();
        var components = Directory.CreateDirectory(Path.Combine(_dir.FullName, "components"));
        File.WriteAllText(Path.Combine(components.FullName, "statestore.yaml"), $"""
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: statestore
            spec:
              type: state.redis
              version: v1
              metadata:
                - name: redisHost
                  value: 127.0.0.1:{port}
            """);
        await using var host = HostProcess.Start("--file", HelloTye(replicas: 1), "--no-build", "-c", Repo.Configuration, "--components", components.FullName);

        Assert.Equal(1, await host.WaitForExitAsync(StartTimeout));
        Assert.Contains(host.Lines, l => l.Contains($"Redis is not reachable at 127.0.0.1:{port}", StringComparison.Ordinal) && l.Contains("statestore.yaml", StringComparison.Ordinal));
        Assert.Contains(host.Lines, l => l.Contains("apt-get install -y redis-server", StringComparison.Ordinal));
        Assert.Contains(host.Lines, l => l.Contains("redis-server --daemonize yes", StringComparison.Ordinal));
        Assert.Empty(host.Status());
    }

    [Fact]
    public async Task Run_ComponentTheSidecarCannotLoad_StopsWithTheSidecarsReason()
    {
        var components = Directory.CreateDirectory(Path.Combine(_dir.FullName, "kafka"));
        File.WriteAllText(Path.Combine(components.FullName, "pubsub.yaml"), KafkaPubSub);
        await using var host = HostProcess.Start("--file", HelloTye(replicas: 1), "--no-build", "-c", Repo.Configuration, "--components", components.FullName);

        Assert.Equal(1, await host.WaitForExitAsync(StartTimeout));
        Assert.Contains(host.Lines, l => l.StartsWith("[host] the sidecar of hello-1 cannot start: ", StringComparison.Ordinal)
            && l.Contains("pubsub.yaml", StringComparison.Ordinal) && l.Contains("pubsub.kafka", StringComparison.Ordinal));
        Assert.Empty(host.Status());
        Assert.Empty(host.ProcessesOfThisRun());
    }

    [Fact]
    public async Task Run_KeyTyesParserRejects_ExitsNamingTheKeyAndLine()
    {
        var tye = Write("tye.yaml", $"""
            name: bad-key
            services:
              - name: hello
                project: {Path.Combine(Repo.Root, "services", "Hello", "Hello.csproj")}
                bindings:
                  - protocol: http
                    autoAssignPort: true
            """);
        await using var host = HostProcess.Start("--file", tye, "--no-build", "-c", Repo.Configuration);

        Assert.Equal(2, await host.WaitForExitAsync(StartTimeout));
        Assert.Contains(host.Lines, l => l.Contains("tye.yaml:7:9: unrecognized key 'autoAssignPort' in 'services[0].bindings[0]'", StringComparison.Ordinal));
        Assert.Empty(host.Status());
    }

    // A generated solution's tye.yaml names its broker's folder (which may need Kafka, Pulsar or Redis): dev/Host
    // runs on components/local next to tye.yaml all the same unless told otherwise, and says so in its first lines.
    [Theory]
    [InlineData("./components/kafka/")]
    [InlineData("./components/nowhere/")]
    public async Task Run_NoComponentsOption_RunsOnComponentsLocalWhateverTyeYamlNames(string componentsPath)
    {
        var tye = PlatformWithKafkaFolder(componentsPath);
        await using var host = HostProcess.Start("--file", tye, "--no-build", "-c", Repo.Configuration);

        var status = await host.WaitForStatusAsync(s => s.Count == 1 && s["hello-1"].State == "up", "hello-1 up", StartTimeout);
        Assert.Contains(host.Lines, l => l.StartsWith("[host] ", StringComparison.Ordinal) && l.EndsWith("1 service(s), 1 replica(s); components: components/local", StringComparison.Ordinal));
        Assert.Contains($"[host] components/local (in-memory) is dev/Host's default; tye.yaml names {componentsPath.TrimStart('.', '/').TrimEnd('/')} (what tye run uses); choose with --components local|redis|<name under components/>|tye (tye.yaml's components-path)|<folder>", host.Lines);
        // The in-memory state store answers through the sidecar (the kafka folder's Redis store would need a server).
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{status["hello-1"].DaprHttpPort}") };
        await AnswersFromAsync(http, ["hello-1"]);

        host.Signal(host.Ignores(HostProcess.SigInt) ? HostProcess.SigTerm : HostProcess.SigInt);
        Assert.Equal(0, await host.WaitForExitAsync(StopTimeout));
        Assert.Empty(host.ProcessesOfThisRun());
    }

    [Fact]
    public async Task Run_ComponentsTye_UsesTheFolderTyeYamlNames()
    {
        var tye = PlatformWithKafkaFolder("./components/kafka/");
        await using var host = HostProcess.Start("--file", tye, "--no-build", "-c", Repo.Configuration, "--components", "tye");

        // components/kafka is what it would run: its Redis state store is checked first, and nothing answers there.
        Assert.Equal(1, await host.WaitForExitAsync(StartTimeout));
        Assert.Contains(host.Lines, l => l.EndsWith("; components: components/kafka", StringComparison.Ordinal));
        Assert.Contains(host.Lines, l => l.Contains("Redis is not reachable at 127.0.0.1:", StringComparison.Ordinal) && l.Contains("statestore.yaml in components/kafka", StringComparison.Ordinal));
        Assert.Empty(host.Status());
        Assert.Empty(host.ProcessesOfThisRun());
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("./no/such/folder")]
    [InlineData("")]
    public async Task Run_ComponentsNamingNoFolder_ExitsWithTheChoicesAndStartsNothing(string value)
    {
        var tye = PlatformWithKafkaFolder("./components/local/");
        await using var host = HostProcess.Start("--file", tye, "--no-build", "-c", Repo.Configuration, "--components", value);

        Assert.Equal(2, await host.WaitForExitAsync(StartTimeout));
        Assert.Contains(host.Lines, l => l.StartsWith($"[host] --components '{value}' names no folder ", StringComparison.Ordinal)
            && l.EndsWith("; choose with --components local|redis|<name under components/>|tye (tye.yaml's components-path)|<folder>", StringComparison.Ordinal));
        Assert.Empty(host.Status());
        Assert.Empty(host.ProcessesOfThisRun());
    }

    [Fact]
    public async Task Run_NoComponentsLocalNextToTyeYaml_SaysHowToChooseAndStartsNothing()
    {
        // HelloTye's folder has no components/ at all.
        await using var host = HostProcess.Start("--file", HelloTye(replicas: 1), "--no-build", "-c", Repo.Configuration);

        Assert.Equal(2, await host.WaitForExitAsync(StartTimeout));
        Assert.Contains(host.Lines, l => l.StartsWith("[host] no components/local next to ", StringComparison.Ordinal) && l.Contains("--components", StringComparison.Ordinal) && l.Contains("tye", StringComparison.Ordinal));
        Assert.Empty(host.Status());
        Assert.Empty(host.ProcessesOfThisRun());
    }

    // A solution as the template generates it with --broker kafka: components/local (the repository's, in-memory)
    // and components/kafka (a Redis state store on a free port where nothing listens, Kafka pub/sub the sidecar
    // refuses: either would stop the run if used), and a tye.yaml whose components-path is the given one.
    private string PlatformWithKafkaFolder(string componentsPath)
    {
        var local = Directory.CreateDirectory(Path.Combine(_dir.FullName, "components", "local"));
        foreach (var file in Directory.GetFiles(Path.Combine(Repo.Root, "components", "local")))
        {
            File.Copy(file, Path.Combine(local.FullName, Path.GetFileName(file)), overwrite: true);
        }

        var kafka = Directory.CreateDirectory(Path.Combine(_dir.FullName, "components", "kafka"));
        File.WriteAllText(Path.Combine(kafka.FullName, "statestore.yaml"), $"""
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: statestore
            spec:
              type: state.redis
              version: v1
              metadata:
                - name: redisHost
                  value: 127.0.0.1:{FreePort()}
            """);
        File.WriteAllText(Path.Combine(kafka.FullName, "pubsub.yaml"), KafkaPubSub);
        return Write("tye.yaml", $"""
            name: kafka-platform
            extensions:
              - name: dapr
                components-path: {componentsPath}
            services:
              - name: hello
                project: {Path.Combine(Repo.Root, "services", "Hello", "Hello.csproj")}
                bindings:
                  - protocol: http
            """);
    }

    [Fact]
    public async Task Check_RepositoryFiles_AgreeAndExitZero()
    {
        await using var host = HostProcess.Start("--check", "--file", Path.Combine(Repo.Root, "tye.yaml"));

        Assert.Equal(0, await host.WaitForExitAsync(StartTimeout));
        Assert.Contains(host.Lines, l => l.Contains("dapr.yaml describes the same apps", StringComparison.Ordinal));
    }

    /// <summary>Calls /hello through the sidecar until every one of <paramref name="replicas"/> has answered.</summary>
    private static async Task<List<Greeting>> AnswersFromAsync(HttpClient http, string[] replicas)
    {
        var greetings = new List<Greeting>();
        await Poll.UntilAsync(async () =>
        {
            var greeting = await http.GetFromJsonAsync<Greeting>("/v1.0/invoke/hello/method/hello");
            greetings.Add(greeting!);
            return replicas.All(r => greetings.Any(g => g.Instance == r)) ? greetings : null;
        }, $"answers from {string.Join(" and ", replicas)}", TimeSpan.FromSeconds(30));
        Assert.All(greetings, g => Assert.Equal($"Hello from {g.Instance}", g.Message));
        return greetings;
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static bool Answers(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private sealed record Greeting(string Message, string Instance, long Count);
}
