using Platform.Host.Tests.Infrastructure;
using Platform.Host.Topology;

namespace Platform.Host.Tests;

/// <summary>tye.yaml and dapr.yaml must describe the same platform; the checker must notice when they do not.</summary>
public sealed class TopologyCheckTests : IDisposable
{
    private const string GoodTye = """
        name: pair
        extensions:
          - name: dapr
            components-path: ./components/local/
            services:
              solver:
                app-max-concurrency: 2
        services:
          - name: ledger
            project: services/Ledger/Ledger.csproj
            bindings:
              - protocol: http
                port: 5101
          - name: solver
            project: services/Solver/Solver.csproj
            bindings:
              - protocol: http
                port: 5105
        """;

    private const string GoodDapr = """
        version: 1
        common:
          resourcesPaths: [./components/local]
        apps:
          - appID: ledger
            appDirPath: ./services/Ledger
            appPort: 5101
            daprHTTPPort: 3501
            command: ["dotnet", "run", "--", "--urls", "http://localhost:5101"]
          - appID: solver
            appDirPath: ./services/Solver
            appPort: 5105
            daprHTTPPort: 3505
            appMaxConcurrency: 2
            command: ["dotnet", "run", "--", "--urls", "http://localhost:5105"]
        """;

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("topology-");

    public TopologyCheckTests()
    {
        // The Dapr CLI refuses paths that do not exist, and so does the checker: give the pair a real tree.
        foreach (var folder in new[] { "components/local", "components/redis", "services/Ledger", "services/Solver", "services/Balances" })
        {
            Directory.CreateDirectory(Path.Combine(_dir.FullName, folder));
        }
    }

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void CheckFiles_RepositoryTyeAndDaprYaml_Agree()
    {
        var problems = TopologyCheck.CheckFiles(Path.Combine(Repo.Root, "tye.yaml"), Path.Combine(Repo.Root, "dapr.yaml"));

        Assert.Empty(problems);
        var dapr = DaprRunFileReader.Load(Path.Combine(Repo.Root, "dapr.yaml"));
        Assert.Contains(dapr.Apps, a => a.AppId == "hello");
    }

    [Fact]
    public void Compare_MatchingPair_HasNoProblems()
    {
        Assert.Empty(Check(GoodTye, GoodDapr));
    }

    [Theory]
    [InlineData("appID: solver", "appID: solvr", "app-id 'solver' (service 'solver') is in tye.yaml but not in dapr.yaml")]
    [InlineData("appID: solver", "appID: solvr", "appID 'solvr' (dapr.yaml line 10) is in dapr.yaml but not in tye.yaml")]
    [InlineData("appPort: 5105", "appPort: 5106", "app-id 'solver': tye.yaml http binding port is 5105 but dapr.yaml appPort is 5106")]
    [InlineData("appDirPath: ./services/Ledger", "appDirPath: ./services/Balances", "app-id 'ledger': tye.yaml builds it in 'services/Ledger' but dapr.yaml appDirPath is 'services/Balances'")]
    [InlineData("resourcesPaths: [./components/local]", "resourcesPaths: [./components/redis]", "app-id 'ledger': tye.yaml components-path is [components/local] but dapr.yaml resourcesPaths is [components/redis]")]
    [InlineData("    appMaxConcurrency: 2\n", "", "app-id 'solver': tye.yaml app-max-concurrency is 2 but dapr.yaml appMaxConcurrency is not set")]
    [InlineData("\"http://localhost:5101\"", "\"http://localhost:5000\"", "app-id 'ledger': dapr.yaml command does not make the app listen on appPort 5101")]
    [InlineData("daprHTTPPort: 3505", "daprHTTPPort: 3501", "dapr.yaml: port 3501 is used by ledger daprHTTPPort and solver daprHTTPPort")]
    public void Compare_MismatchedPair_NamesTheDifference(string from, string to, string expected)
    {
        var dapr = GoodDapr.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(GoodDapr, dapr);

        var problems = Check(GoodTye, dapr);

        Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Compare_ServiceMissingFromDaprYaml_IsReported()
    {
        var tye = GoodTye + """

              - name: balances
                project: services/Balances/Balances.csproj
            """;

        var problem = Assert.Single(Check(tye, GoodDapr));

        Assert.Equal("app-id 'balances' (service 'balances') is in tye.yaml but not in dapr.yaml", problem);
    }

    [Theory]
    [InlineData("appID: ledger", "appId: ledger", "unrecognized key 'appId'", "did you mean 'appID'?")]
    [InlineData("daprHTTPPort: 3501", "daprHttpPort: 3501", "unrecognized key 'daprHttpPort'", "did you mean 'daprHTTPPort'?")]
    [InlineData("resourcesPaths: [./components/local]", "resourcesPaths: ./components/local", "'common.resourcesPaths' must be a list", "")]
    [InlineData("version: 1\n", "", "'version' is required", "")]
    [InlineData("appDirPath: ./services/Ledger", "appDirPath: ./services/Ledgr", "path './services/Ledgr' does not exist", "")]
    public void Parse_DaprYamlTheCliWouldMisread_IsReported(string from, string to, string expected, string hint)
    {
        var dapr = GoodDapr.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(GoodDapr, dapr);

        var problems = Check(GoodTye, dapr);

        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal) && p.Contains(hint, StringComparison.Ordinal));
    }

    private IReadOnlyList<string> Check(string tye, string dapr)
    {
        var tyePath = Path.Combine(_dir.FullName, "tye.yaml");
        var daprPath = Path.Combine(_dir.FullName, "dapr.yaml");
        File.WriteAllText(tyePath, tye);
        File.WriteAllText(daprPath, dapr);
        return TopologyCheck.CheckFiles(tyePath, daprPath);
    }
}
