using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Platform.Sidecar;

namespace Platform.Balances.Tests.Infrastructure;

/// <summary>
/// One replica of the real Balances app (its own Program, hosted by WebApplicationFactory on Kestrel) with its own
/// sidecar. The app reaches the sidecar through the configuration keys the Dapr SDK reads first
/// (<c>DAPR_HTTP_ENDPOINT</c>/<c>DAPR_GRPC_ENDPOINT</c>), so replicas in one process each talk to their own.
/// </summary>
public sealed class BalancesReplica : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> _root;
    private readonly WebApplicationFactory<Program> _factory;

    private BalancesReplica(WebApplicationFactory<Program> root, WebApplicationFactory<Program> factory, Platform.Sidecar.SidecarHost sidecar, int port)
    {
        AppAddress = new Uri($"http://127.0.0.1:{port}/");
        _root = root;
        _factory = factory;
        Sidecar = sidecar;
        Meter = new DeliveryMeter(factory.Services);
        Dapr = new DaprClientBuilder().UseHttpEndpoint(sidecar.HttpEndpoint).UseGrpcEndpoint(sidecar.GrpcEndpoint).Build();
    }

    public Platform.Sidecar.SidecarHost Sidecar { get; }

    /// <summary>The app itself, for what only this replica must receive (its sidecar would balance over the replicas).</summary>
    public Uri AppAddress { get; }

    public DeliveryMeter Meter { get; }

    /// <summary>A client of this replica's sidecar: reads the replica's state as the app sees it (same app-id prefix).</summary>
    public DaprClient Dapr { get; }

    public static async Task<BalancesReplica> StartAsync(string appId, string componentsDir, string registry)
    {
        for (var attempt = 1; ; attempt++)
        {
            // The sidecar must know the app's port and the app its sidecar's: reserve a free port for the app,
            // start the sidecar (it waits for that port to accept), then the app on it.
            var port = RedisServer.FreePort();
            var sidecar = await Platform.Sidecar.SidecarHost.StartAsync(new SidecarOptions { AppId = appId, AppPort = port, ResourcesPaths = [componentsDir], RegistryFolder = registry });
            var root = new WebApplicationFactory<Program>();
            var factory = root.WithWebHostBuilder(web =>
            {
                web.UseSetting("DAPR_HTTP_ENDPOINT", sidecar.HttpEndpoint);
                web.UseSetting("DAPR_GRPC_ENDPOINT", sidecar.GrpcEndpoint);
                web.ConfigureLogging(logging => logging.ClearProviders());
            });
            factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
            try
            {
                factory.StartServer();
            }
            catch (IOException) when (attempt < 3)
            {
                // Someone took the port between reserving and listening: start over on another.
                await root.DisposeAsync();
                await sidecar.DisposeAsync();
                continue;
            }

            var replica = new BalancesReplica(root, factory, sidecar, port);
            await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(30));
            return replica;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The sidecar first, so that no delivery reaches an app that is going away.
        await Sidecar.DisposeAsync();
        Meter.Dispose();
        Dapr.Dispose();
        await _factory.DisposeAsync();
        await _root.DisposeAsync();
    }
}
