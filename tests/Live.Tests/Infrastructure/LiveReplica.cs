using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Platform.Live.Follower;
using Platform.Live.Views;
using Platform.Sidecar;

namespace Platform.Live.Tests.Infrastructure;

/// <summary>
/// One replica of the real Live app (its own Program on Kestrel, in this process) with its own sidecar; stopping it
/// stops both, as a pod going away. The app reaches its sidecar through DAPR_HTTP_ENDPOINT/DAPR_GRPC_ENDPOINT.
/// </summary>
public sealed class LiveReplica : IAsyncDisposable
{
    private readonly (string Key, string Value)[] _settings;
    private readonly int _port;
    private WebApplicationFactory<Program> _root;
    private WebApplicationFactory<Program> _factory;

    private LiveReplica(string appId, string name, WebApplicationFactory<Program> root, WebApplicationFactory<Program> factory, Platform.Sidecar.SidecarHost sidecar, int port,
        (string Key, string Value)[] settings)
    {
        AppId = appId;
        Name = name;
        _root = root;
        _factory = factory;
        _port = port;
        _settings = settings;
        Sidecar = sidecar;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public string AppId { get; }

    public string Name { get; }

    public Platform.Sidecar.SidecarHost Sidecar { get; }

    /// <summary>Straight to the app, as a browser reaches a follower.</summary>
    public HttpClient Http { get; }

    public static async Task<LiveReplica> StartAsync(string appId, string name, string componentsDir, string registry, (string Key, string Value)[] settings)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = LiveCluster.FreePort();
            var sidecar = await Platform.Sidecar.SidecarHost.StartAsync(new SidecarOptions
            {
                AppId = appId, AppPort = port, ResourcesPaths = [componentsDir], RegistryFolder = registry, PodName = name,
            });
            var (root, factory) = App(sidecar, port, settings);
            try
            {
                factory.StartServer();
            }
            catch (IOException) when (attempt < 3)
            {
                await root.DisposeAsync();
                await sidecar.DisposeAsync();
                continue;
            }

            var replica = new LiveReplica(appId, name, root, factory, sidecar, port, settings);
            await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(30));
            return replica;
        }
    }

    private static (WebApplicationFactory<Program> Root, WebApplicationFactory<Program> Factory) App(Platform.Sidecar.SidecarHost sidecar, int port, (string Key, string Value)[] settings)
    {
        var root = new WebApplicationFactory<Program>();
        var factory = root.WithWebHostBuilder(web =>
        {
            web.UseSetting("DAPR_HTTP_ENDPOINT", sidecar.HttpEndpoint);
            web.UseSetting("DAPR_GRPC_ENDPOINT", sidecar.GrpcEndpoint);
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }

            web.ConfigureLogging(logging => logging.ClearProviders());
        });
        factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        return (root, factory);
    }

    /// <summary>Stops the app and starts it again on the same port; the sidecar (and its state store) stays, as dev/Host restarts a crashed replica.</summary>
    public async Task RestartAppAsync()
    {
        await _factory.DisposeAsync();
        await _root.DisposeAsync();
        (_root, _factory) = App(Sidecar, _port, _settings);
        _factory.StartServer();
    }

    public async Task<MirrorStatus> MirrorAsync() => (await Http.GetFromJsonAsync<MirrorStatus>("mirror", JsonSerializerOptions.Web))!;

    public async Task<Snapshot> SnapshotAsync() => (await Http.GetFromJsonAsync<Snapshot>("snapshot", JsonSerializerOptions.Web))!;

    public SseClient Stream(string user, string? lastEventId = null) => SseClient.Start(Http, $"events?user={Uri.EscapeDataString(user)}", lastEventId);

    public async ValueTask DisposeAsync()
    {
        // The sidecar first, so that no delivery reaches an app that is going away.
        await Sidecar.DisposeAsync();
        Http.Dispose();
        await _factory.DisposeAsync();
        await _root.DisposeAsync();
    }
}
