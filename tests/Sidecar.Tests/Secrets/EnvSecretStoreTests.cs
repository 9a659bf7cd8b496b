using Dapr;
using Grpc.Core;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Tests.Secrets;

/// <summary>
/// <c>secretstores.local.env</c>, as components-contrib <c>secretstores/local/env/envstore.go</c>: environment
/// variables as secrets <c>{name: value}</c>; <c>prefix</c> is put before the requested name and limits (and is
/// removed from) a bulk read; an unset variable is an empty value; <c>DAPR_*</c> and <c>APP_API_TOKEN</c> are
/// never handed out. Each test sets variables with a name of its own (the sidecar runs in this process).
/// </summary>
public sealed class EnvSecretStoreTests : IDisposable
{
    private readonly string _prefix = $"PLATFORM_T{Guid.NewGuid():N}_";
    private readonly List<string> _set = [];

    public void Dispose()
    {
        foreach (var name in _set)
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    private void Set(string name, string value)
    {
        _set.Add(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    private async Task<(SidecarHost Sidecar, HttpClient Http, DaprClient Dapr)> StartAsync(Cluster cluster, string? prefix, string? config = null)
    {
        cluster.WriteComponent("env.yaml", prefix is null
            ? Yaml.Component("env", "secretstores.local.env")
            : Yaml.Component("env", "secretstores.local.env", ("prefix", prefix)));
        var sidecar = await cluster.StartSidecarAsync("orders", configure: config is null ? null : o => o with { ConfigPath = config });
        return (sidecar, new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) }, cluster.Client(sidecar));
    }

    [Fact]
    public async Task Get_WithPrefix_ReadsThePrefixedVariableOverHttpAndGrpc()
    {
        Set(_prefix + "DB_PASSWORD", "hunter2");
        Set("DB_PASSWORD_" + _prefix, "not this one");
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (_, http, dapr) = await StartAsync(cluster, _prefix);

        var response = await http.GetAsync("/v1.0/secrets/env/DB_PASSWORD");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"DB_PASSWORD":"hunter2"}""", await response.Content.ReadAsStringAsync());
        Assert.Equal(new Dictionary<string, string> { ["DB_PASSWORD"] = "hunter2" }, await dapr.GetSecretAsync("env", "DB_PASSWORD"));
    }

    [Fact]
    public async Task GetBulk_WithPrefix_OnlyPrefixedVariablesWithThePrefixRemoved()
    {
        Set(_prefix + "A", "1");
        Set(_prefix + "B", "two");
        Set(_prefix.ToLowerInvariant() + "C", "other case"); // case-sensitive on Linux, as contrib
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (_, http, dapr) = await StartAsync(cluster, _prefix);

        var body = await http.GetFromJsonAsync<Dictionary<string, Dictionary<string, string>>>("/v1.0/secrets/env/bulk");
        var grpc = await dapr.GetBulkSecretAsync("env");

        var expected = new Dictionary<string, Dictionary<string, string>> { ["A"] = new() { ["A"] = "1" }, ["B"] = new() { ["B"] = "two" } };
        Assert.Equal(expected, body);
        Assert.Equal(expected, grpc.ToDictionary(p => p.Key, p => p.Value.ToDictionary()));
    }

    [Fact]
    public async Task GetBulk_WithoutPrefix_EveryVariableButDaprOnes()
    {
        var mine = _prefix + "MINE";
        var dapr_ = "DAPR_" + _prefix;
        Set(mine, "v");
        Set(dapr_, "must not leak");
        Set("dapr_" + _prefix, "must not leak either");
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (_, http, dapr) = await StartAsync(cluster, prefix: null);

        var body = await http.GetFromJsonAsync<Dictionary<string, Dictionary<string, string>>>("/v1.0/secrets/env/bulk");
        var grpc = await dapr.GetBulkSecretAsync("env");

        Assert.Equal("v", body![mine][mine]);
        Assert.Equal("v", grpc[mine][mine]);
        Assert.DoesNotContain(body.Keys, k => k.StartsWith("DAPR_", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(grpc.Keys, k => k.StartsWith("DAPR_", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(Environment.GetEnvironmentVariable("PATH"), body["PATH"]["PATH"]);

        // A get of a DAPR_ variable answers an empty value, as contrib's isKeyAllowed does.
        Assert.Equal("""{"DAPR_""" + _prefix + "\":\"\"}", await http.GetStringAsync($"/v1.0/secrets/env/{dapr_}"));
        Assert.Equal("", (await dapr.GetSecretAsync("env", dapr_))[dapr_]);
    }

    [Fact]
    public async Task Get_UnsetVariable_EmptyValueNotAnError()
    {
        // contrib's GetSecret returns {name: os.Getenv(name)} and no error, so daprd answers 200 with "".
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (_, http, dapr) = await StartAsync(cluster, _prefix);

        var response = await http.GetAsync("/v1.0/secrets/env/NOT_SET");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"NOT_SET":""}""", await response.Content.ReadAsStringAsync());
        Assert.Equal(new Dictionary<string, string> { ["NOT_SET"] = "" }, await dapr.GetSecretAsync("env", "NOT_SET"));
    }

    [Fact]
    public async Task Get_UnderSecretScopes_RefusedAndLeftOutOfBulk()
    {
        Set(_prefix + "OPEN", "o");
        Set(_prefix + "CLOSED", "c");
        await using var cluster = Cluster.Create(Backend.InMemory);
        var config = cluster.WriteFile("config.yaml", Yaml.Resource("Configuration", "secrets", """
            secrets:
              scopes:
                - storeName: env
                  defaultAccess: allow
                  deniedSecrets: ["CLOSED"]
            """));
        var (_, http, dapr) = await StartAsync(cluster, _prefix, config);

        var refused = await http.GetAsync("/v1.0/secrets/env/CLOSED");
        var bulk = await http.GetFromJsonAsync<Dictionary<string, Dictionary<string, string>>>("/v1.0/secrets/env/bulk");

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("ERR_PERMISSION_DENIED", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        var e = await Assert.ThrowsAsync<DaprException>(() => dapr.GetSecretAsync("env", "CLOSED"));
        Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.Equal(new[] { "OPEN" }, bulk!.Keys);
        Assert.Equal(new[] { "OPEN" }, (await dapr.GetBulkSecretAsync("env")).Keys);
    }

    [Fact]
    public async Task Get_UnknownStore_NotFoundAndNoStores_NotConfigured()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var none = await cluster.StartSidecarAsync("nosecrets");
        using var noneHttp = new HttpClient { BaseAddress = new Uri(none.HttpEndpoint) };
        var (_, http, dapr) = await StartAsync(cluster, _prefix);

        var notFound = await http.GetAsync("/v1.0/secrets/vault/x");
        var notConfigured = await noneHttp.GetAsync("/v1.0/secrets/env/x");

        Assert.Equal(HttpStatusCode.Unauthorized, notFound.StatusCode);
        Assert.Equal("ERR_SECRET_STORE_NOT_FOUND", (await notFound.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        var e = await Assert.ThrowsAsync<DaprException>(() => dapr.GetSecretAsync("vault", "x"));
        Assert.Equal(StatusCode.InvalidArgument, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, notConfigured.StatusCode);
        Assert.Equal("ERR_SECRET_STORES_NOT_CONFIGURED", (await notConfigured.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
    }

    [Fact]
    public void SecretKeyRef_FromEnvStore_Resolved()
    {
        Set(_prefix + "REDIS_PASSWORD", "s3cret");
        var dir = Directory.CreateTempSubdirectory("platform-env-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "env.yaml"), Yaml.Component("env", "secretstores.local.env", ("prefix", _prefix)));
            File.WriteAllText(Path.Combine(dir, "state.yaml"),
                Yaml.ComponentWithSecrets("statestore", "state.redis", "env", [("redisHost", "localhost:6379")], ("redisPassword", "REDIS_PASSWORD", null)));

            var state = ResourceLoader.Load([dir], "orders").Components.Single(c => c.Name == "statestore");

            Assert.Equal("s3cret", state.Metadata["redisPassword"]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
