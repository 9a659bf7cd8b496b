using Platform.Host.Tests.Infrastructure;
using Platform.Host.Topology;

namespace Platform.Host.Tests;

/// <summary>How dev/Host reads tye.yaml: what it runs, and the keys it refuses rather than silently ignores.</summary>
public sealed class TyeFileTests
{
    private const string FilePath = "/repo/tye.yaml";

    [Fact]
    public void Load_RepositoryTyeYaml_RunsEveryServiceWithLocalComponents()
    {
        var app = TyeFile.Load(Path.Combine(Repo.Root, "tye.yaml"));

        Assert.Equal(["balances", "fraud", "hello", "ledger", "live", "live-leader", "routing", "solver"], app.Services.Select(s => s.Name).Order());
        Assert.Equal(app.Services.Count, app.Services.Select(s => s.HttpPort).Distinct().Count());
        foreach (var service in app.Services)
        {
            if (service.Name == "fraud")
            {
                // The Node service: dev/Host runs `npm ci`/`npm run build` in its folder, then `node dist/main.js`.
                Assert.Equal(ServiceKind.Executable, service.Kind);
                Assert.True(File.Exists(Path.Combine(app.Resolve(service.WorkingDirectory!), "package.json")));
            }
            else
            {
                Assert.Equal(ServiceKind.Project, service.Kind);
                Assert.True(File.Exists(app.Resolve(service.Path)), service.Path);
            }

            var dapr = app.DaprFor(service);
            Assert.NotNull(dapr);
            Assert.Equal(service.Name, dapr.AppId);
            Assert.Equal(Path.Combine(Repo.Root, "components", "local"), Path.TrimEndingDirectorySeparator(dapr.ComponentsPath!));
        }
    }

    [Fact]
    public void Parse_ServiceKeys_AreRead()
    {
        const string yaml = """
            name: demo
            extensions:
              - name: dapr
                components-path: ./components/redis
                app-max-concurrency: 4
                services:
                  Solver:
                    app-id: solver-app
                    app-max-concurrency: 1
                  worker:
                    enabled: false
            services:
              - name: Solver
                project: services/Solver/Solver.csproj
                replicas: 3
                args: --mode "fast and loose"
                env:
                  - name: A
                    value: one
                  - B=two
                bindings:
                  - name: dashboard
                    protocol: http
                    port: 5000
              - name: worker
                executable: node
                workingDirectory: services/worker
                args: src/index.js
            """;

        var app = TyeFile.Parse(yaml, FilePath);

        var solver = app.Services[0];
        Assert.Equal("solver", solver.Name);
        Assert.Equal(3, solver.Replicas);
        Assert.Equal("--mode \"fast and loose\"", solver.Args);
        Assert.Equal(new KeyValuePair<string, string>[] { new("A", "one"), new("B", "two") }, solver.Env);
        Assert.Equal(5000, solver.HttpPort);
        Assert.Equal("dashboard", solver.Bindings[0].Name);
        var dapr = app.DaprFor(solver)!;
        Assert.Equal("solver-app", dapr.AppId);
        Assert.Equal(1, dapr.AppMaxConcurrency);
        Assert.Equal(Path.GetFullPath("/repo/components/redis"), dapr.ComponentsPath);

        var worker = app.Services[1];
        Assert.Equal(ServiceKind.Executable, worker.Kind);
        Assert.Equal("node", worker.Path);
        Assert.Null(app.DaprFor(worker));
    }

    [Fact]
    public void DaprFor_ExecutableWithoutBinding_HasNoSidecarUnlessEnabled()
    {
        const string yaml = """
            extensions:
              - name: dapr
                services:
                  b:
                    enabled: true
            services:
              - name: a
                executable: node
              - name: b
                executable: node
            """;

        var app = TyeFile.Parse(yaml, FilePath);

        Assert.Null(app.DaprFor(app.Services[0]));
        Assert.NotNull(app.DaprFor(app.Services[1]));
    }

    [Fact]
    public void DaprFor_Config_ResolvesInTheComponentsFolderAsTyeDoes()
    {
        const string yaml = """
            extensions:
              - name: dapr
                components-path: ./components/local
                config: tracing
            services:
              - name: a
                project: a.csproj
            """;

        var app = TyeFile.Parse(yaml, FilePath);

        Assert.Equal(Path.GetFullPath("/repo/components/local/tracing.yaml"), app.DaprFor(app.Services[0])!.ConfigPath);
    }

    [Theory]
    [InlineData("    image: redis\n", "key 'image' is not supported by dev/Host: container services need Docker")]
    [InlineData("    readiness:\n      http:\n        path: /health\n", "key 'readiness' is not supported by dev/Host")]
    [InlineData("    replicas: two\n", "'replicas' must be a whole number of 0 or more, not 'two'")]
    public void Parse_ServiceKeyTheHostCannotHonour_IsAnErrorNamingIt(string extra, string message)
    {
        var yaml = "services:\n  - name: a\n    project: a.csproj\n" + extra;

        var e = Assert.Throws<TyeFileException>(() => TyeFile.Parse(yaml, FilePath));

        Assert.Contains(e.Problems, p => p.Message.StartsWith(message, StringComparison.Ordinal) && p.Line >= 4);
    }

    [Theory]
    [InlineData("    app-protocol: grpc\n", "dapr extension key 'app-protocol' is not supported by dev/Host", 3)]
    [InlineData("    services:\n      a:\n        http-port: 3500\n", "dapr extension key 'http-port' is not supported by dev/Host", 5)]
    public void Parse_DaprKeyTheHostCannotHonour_IsAnErrorNamingIt(string extra, string message, int line)
    {
        var yaml = "extensions:\n  - name: dapr\n" + extra + "services:\n  - name: a\n    project: a.csproj\n";

        var e = Assert.Throws<TyeFileException>(() => TyeFile.Parse(yaml, FilePath));

        Assert.Contains(e.Problems, p => p.Message.StartsWith(message, StringComparison.Ordinal) && p.Line == line);
    }

    [Fact]
    public void Parse_KeyTyeRejects_IsReportedAsTyeWould()
    {
        var e = Assert.Throws<TyeFileException>(() => TyeFile.Parse("services:\n  - name: a\n    projct: a.csproj\n", FilePath));

        var problem = Assert.Single(e.Problems);
        Assert.Equal("tye.yaml:3:5: unrecognized key 'projct' in 'services[0]'", problem.ToString()[..problem.ToString().IndexOf(';', StringComparison.Ordinal)]);
    }

    [Fact]
    public void Parse_ServiceOfAnotherKindOrNoneAtAll_IsRefused()
    {
        var e = Assert.Throws<TyeFileException>(() => TyeFile.Parse("services:\n  - name: a\n    args: x\n", FilePath));

        Assert.Contains(e.Problems, p => p.Message == "service 'a' needs 'project' or 'executable' (dev/Host runs those two kinds)");
    }

    [Fact]
    public void Parse_DaprSettingsForAServiceThatDoesNotExist_IsRefused()
    {
        const string yaml = "extensions:\n  - name: dapr\n    services:\n      ledgr:\n        app-id: ledger\nservices:\n  - name: ledger\n    project: a.csproj\n";

        var e = Assert.Throws<TyeFileException>(() => TyeFile.Parse(yaml, FilePath));

        Assert.Contains(e.Problems, p => p.Message == "the dapr extension configures service 'ledgr', which is not in 'services'");
    }
}
