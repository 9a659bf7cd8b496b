using Dapr;
using Grpc.Core;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Tests.Security;

/// <summary>
/// <c>spec.secrets.scopes</c> of a Configuration, with daprd's rules (dapr/dapr pkg/config/configuration.go
/// <c>IsSecretAllowed</c>): a non-empty <c>allowedSecrets</c> is the whole answer; else a name in
/// <c>deniedSecrets</c> is refused; else <c>defaultAccess</c> (allow when unset). A store without a scope is open.
/// A refused read is <c>ERR_PERMISSION_DENIED</c> 403 / <c>PermissionDenied</c>; a bulk read leaves refused secrets out.
/// </summary>
public sealed class SecretScopeTests
{
    private static readonly string Header = Yaml.Resource("Configuration", "secrets", "secrets:\n  scopes:");

    private static readonly string Scopes = Header + """
              - storeName: vault
                defaultAccess: allow
                deniedSecrets: ["db-password"]
              - storeName: locked
                defaultAccess: deny
                allowedSecrets: ["api-key", "both"]
                deniedSecrets: ["both", "other"]
              - storeName: closed
                defaultAccess: Deny
        """;

    private static readonly string[] All = ["api-key", "api-url", "both", "db-password", "other"];

    private static async Task<SidecarHost> StartAsync(Cluster cluster)
    {
        var secrets = cluster.WriteFile("secrets.json", """{"db-password":"hunter2","api-url":"http://x","api-key":"k","both":"b","other":"o"}""");
        foreach (var store in new[] { "vault", "locked", "closed", "open" })
        {
            cluster.WriteComponent($"{store}.yaml", Yaml.Component(store, "secretstores.local.file", ("secretsFile", secrets)));
        }

        var config = cluster.WriteFile("config.yaml", Scopes);
        return await cluster.StartSidecarAsync("orders", configure: o => o with { ConfigPath = config });
    }

    [Theory]
    [InlineData("vault", "db-password", false)]
    [InlineData("vault", "api-url", true)]
    [InlineData("locked", "api-key", true)]
    [InlineData("locked", "both", true)]
    [InlineData("locked", "other", false)]
    [InlineData("locked", "api-url", false)]
    [InlineData("closed", "api-key", false)]
    [InlineData("open", "db-password", true)]
    public async Task GetSecret_UnderScopes_AllowedOrPermissionDeniedOverHttpAndGrpc(string store, string key, bool allowed)
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await StartAsync(cluster);
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        var dapr = cluster.Client(sidecar);

        var response = await http.GetAsync($"/v1.0/secrets/{store}/{key}");

        if (allowed)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).TryGetProperty(key, out _));
            Assert.Contains(key, (await dapr.GetSecretAsync(store, key)).Keys);
        }
        else
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("ERR_PERMISSION_DENIED", body.GetProperty("errorCode").GetString());
            Assert.Equal($"access denied by policy to get \"{key}\" from \"{store}\"", body.GetProperty("message").GetString());
            var e = await Assert.ThrowsAsync<DaprException>(() => dapr.GetSecretAsync(store, key));
            Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        }
    }

    [Theory]
    [InlineData("vault", new[] { "api-key", "api-url", "both", "other" })]
    [InlineData("locked", new[] { "api-key", "both" })]
    [InlineData("closed", new string[0])]
    [InlineData("open", null)]
    public async Task GetBulkSecret_UnderScopes_OnlyAllowedSecretsOverHttpAndGrpc(string store, string[]? expected)
    {
        expected ??= All;
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await StartAsync(cluster);
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        var response = await http.GetAsync($"/v1.0/secrets/{store}/bulk");
        var grpc = await cluster.Client(sidecar).GetBulkSecretAsync(store);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(expected, grpc.Keys.Order());
    }

    [Theory]
    [InlineData("defaultAccess: maybe", "defaultAccess")]
    [InlineData("defaultAccess: deny\n      - storeName: vault", "storeName")]
    public async Task Start_BadSecretScope_RefusedNamingTheField(string scope, string field)
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var config = cluster.WriteFile("config.yaml", $"{Header}      - storeName: vault\n        {scope}\n");

        var e = await Assert.ThrowsAsync<ResourceException>(() => cluster.StartSidecarAsync("orders", configure: o => o with { ConfigPath = config }));

        Assert.Contains(field, e.Field, StringComparison.Ordinal);
    }
}
