using System.Diagnostics;
using Dapr;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.Tests.State;

namespace Platform.Sidecar.Tests.Security;

/// <summary>
/// The registry folder holds the secret peer sidecars vouch for each other with (<c>.internal-token</c>): only its
/// owner may read it, and even with it in hand no API but delivering a forwarded invocation opens.
/// </summary>
public sealed class RegistryFolderTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public async Task Start_NewRegistryFolder_FolderIs0700AndTokenIs0600()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        Assert.False(Directory.Exists(cluster.Registry));

        await cluster.StartSidecarAsync("orders");

        Assert.Equal(Private, UnixModes.Get(cluster.Registry));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, UnixModes.Get(Path.Combine(cluster.Registry, ".internal-token")));
        Assert.Equal(Private, UnixModes.Get(Path.Combine(cluster.Registry, "orders")));
    }

    [Fact]
    public void CreateTempSubdirectory_AsFixturesAndDevHostUseIt_IsPrivate()
    {
        // dev/Host and several fixtures hand such a folder to the sidecars as their registry.
        var folder = Directory.CreateTempSubdirectory("registry-mode-");
        try
        {
            Assert.Equal(Private, UnixModes.Get(folder.FullName));
        }
        finally
        {
            folder.Delete();
        }
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute)]
    [InlineData(UnixFileMode.GroupWrite)]
    [InlineData(UnixFileMode.OtherWrite | UnixFileMode.OtherExecute)]
    public async Task Start_RegistryFolderOthersCanUse_RefusedNamingTheFolderAndTheFix(UnixFileMode extra)
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        Directory.CreateDirectory(cluster.Registry);
        UnixModes.Set(cluster.Registry, Private | extra);

        var e = await Assert.ThrowsAsync<RegistryFolderException>(() => cluster.StartSidecarAsync("orders"));

        Assert.Contains(cluster.Registry, e.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 700", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(cluster.Registry, ".internal-token")), "no token is written into a folder others can read");
        Assert.Equal(Private | extra, UnixModes.Get(cluster.Registry));
    }

    [Fact]
    public async Task Start_TokenFileOthersCanRead_Refused()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        Directory.CreateDirectory(cluster.Registry);
        UnixModes.Set(cluster.Registry, Private);
        var token = Path.Combine(cluster.Registry, ".internal-token");
        await File.WriteAllTextAsync(token, "leaked");
        UnixModes.Set(token, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var e = await Assert.ThrowsAsync<RegistryFolderException>(() => cluster.StartSidecarAsync("orders"));

        Assert.Contains(token, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_RegistryFolderOfAnotherUser_Refused()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        string folder;
        if (Environment.UserName == "root")
        {
            // root can make a folder that is someone else's: nobody (65534) owns this one.
            folder = cluster.Registry;
            Directory.CreateDirectory(folder);
            UnixModes.Set(folder, Private);
            using var chown = Process.Start("chown", ["65534:65534", folder])!;
            await chown.WaitForExitAsync();
            Assert.Equal(0, chown.ExitCode);
        }
        else
        {
            folder = "/"; // root's
        }

        var e = await Assert.ThrowsAsync<RegistryFolderException>(() =>
            cluster.StartSidecarAsync("orders", configure: o => o with { RegistryFolder = folder }));

        Assert.Contains("owned by", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardedMarker_WithTheRealInternalToken_OpensNoStateSecretOrPublishApi()
    {
        // Someone who got hold of the token (it was world-readable) must still need dapr-api-token.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var secrets = cluster.WriteFile("secrets.json", """{"db-password":"hunter2"}""");
        cluster.WriteComponent("vault.yaml", Yaml.Component("vault", "secretstores.local.file", ("secretsFile", secrets)));
        var (orders, sidecar) = await cluster.StartAsync("orders", (web, app) =>
            web.MapPost("/placed", (HttpRequest r) =>
            {
                app.Received.Enqueue("event");
                return Results.Ok();
            }).WithTopic("pubsub", "placed"), configure: o => o with { ApiToken = "s3cret" });
        var token = await File.ReadAllTextAsync(Path.Combine(cluster.Registry, ".internal-token"));
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        http.DefaultRequestHeaders.Add("x-platform-sidecar-forwarded", token.Trim());
        http.DefaultRequestHeaders.Add("dapr-caller-app-id", "orders");

        var read = await http.GetAsync("/v1.0/secrets/vault/db-password");
        var bulk = await http.GetAsync("/v1.0/secrets/vault/bulk");
        var save = await http.PostAsync("/v1.0/state/statestore", JsonContent.Create(new[] { new { key = "k", value = new Order("forged", 1) } }));
        var getState = await http.GetAsync("/v1.0/state/statestore/k");
        var publish = await http.PostAsync("/v1.0/publish/pubsub/placed", JsonContent.Create(new { id = 1 }));
        var metadata = await http.GetAsync("/v1.0/metadata");

        Assert.Equal(HttpStatusCode.Unauthorized, read.StatusCode);
        Assert.DoesNotContain("hunter2", await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, bulk.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, save.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, getState.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, publish.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, metadata.StatusCode);
        Assert.Null(await cluster.Client(sidecar, "s3cret").GetStateAsync<Order>("statestore", "k"));
        await Poll.StaysFalseAsync(() => !orders.Received.IsEmpty, "no event was published", TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task ForwardedMarker_WithTheRealInternalToken_ForAnotherApp_IsNotRoutedOn()
    {
        // The marker vouches for a call delivered to this sidecar's own app only; it is no way to call onwards
        // as someone else without this app's API token.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (ledger, _) = await cluster.StartAsync("ledger", (web, app) => web.MapPost("/debit", () =>
        {
            app.Received.Enqueue("debit");
            return Results.Ok();
        }));
        var orders = await cluster.StartSidecarAsync("orders", configure: o => o with { ApiToken = "s3cret" });
        var token = await File.ReadAllTextAsync(Path.Combine(cluster.Registry, ".internal-token"));
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1.0/invoke/ledger/method/debit");
        request.Headers.Add("x-platform-sidecar-forwarded", token.Trim());
        request.Headers.Add("dapr-caller-app-id", "admin");

        var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(ledger.Received);
    }

    [Fact]
    public async Task ForwardedInvocation_BetweenSidecarsOfTheRegistry_StillReachesTheApp()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (pricing, _) = await cluster.StartAsync("pricing", (web, app) => web.MapPost("/quote", (HttpRequest r) =>
        {
            app.Received.Enqueue(r.Headers["dapr-caller-app-id"].ToString());
            return Results.Ok();
        }), configure: o => o with { ApiToken = "pricing-api" });
        var orders = await cluster.StartSidecarAsync("orders", configure: o => o with { ApiToken = "orders-api" });

        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };
        http.DefaultRequestHeaders.Add("dapr-api-token", "orders-api");
        var response = await http.PostAsync("/v1.0/invoke/pricing/method/quote", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("orders", Assert.Single(pricing.Received));
    }
}

/// <summary>File modes: the registry folder's rules are Unix rules (on Windows its ACLs do the job and these tests do not apply).</summary>
internal static class UnixModes
{
    public static UnixFileMode Get(string path) =>
        OperatingSystem.IsWindows() ? throw new NotSupportedException("Unix file modes only") : File.GetUnixFileMode(path);

    public static void Set(string path, UnixFileMode mode)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new NotSupportedException("Unix file modes only");
        }

        File.SetUnixFileMode(path, mode);
    }
}
