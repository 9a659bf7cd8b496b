using System.Net;
using System.Net.Sockets;
using Dapr.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Platform.Sidecar;

namespace Platform.Orders.Tests;

/// <summary>
/// The real Orders app (its own Program, on Kestrel) behind its own in-process sidecar on components/local.
/// The app finds its sidecar through the keys the Dapr SDK reads first (DAPR_HTTP_ENDPOINT, DAPR_GRPC_ENDPOINT).
/// </summary>
public sealed class OrdersApp : IAsyncLifetime
{
    private readonly DirectoryInfo _registry = Directory.CreateTempSubdirectory("orders-tests-");
    private WebApplicationFactory<Program>? _root;
    private WebApplicationFactory<Program>? _factory;

    public Platform.Sidecar.SidecarHost Sidecar { get; private set; } = null!;

    /// <summary>A client of the app's sidecar: publishes and invokes as another service would.</summary>
    public DaprClient Dapr { get; private set; } = null!;

    /// <summary>Straight to the app, bypassing the sidecar.</summary>
    public HttpClient App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var port = FreePort();
        Sidecar = await Platform.Sidecar.SidecarHost.StartAsync(new SidecarOptions
        {
            AppId = OrdersNames.AppId,
            AppPort = port,
            ResourcesPaths = [Path.Combine(RepositoryRoot(), "components", "local")],
            RegistryFolder = _registry.FullName,
        });
        _root = new WebApplicationFactory<Program>();
        _factory = _root.WithWebHostBuilder(web =>
        {
            web.UseSetting("DAPR_HTTP_ENDPOINT", Sidecar.HttpEndpoint);
            web.UseSetting("DAPR_GRPC_ENDPOINT", Sidecar.GrpcEndpoint);
            web.ConfigureLogging(logging => logging.ClearProviders());
        });
        _factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        _factory.StartServer();
        App = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        Dapr = new DaprClientBuilder().UseHttpEndpoint(Sidecar.HttpEndpoint).UseGrpcEndpoint(Sidecar.GrpcEndpoint).Build();
        await Sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        // The sidecar first, so that no delivery reaches an app that is going away.
        await Sidecar.DisposeAsync();
        Dapr.Dispose();
        App.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_root is not null)
        {
            await _root.DisposeAsync();
        }

        _registry.Delete(recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, "components", "local")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no components/local above {AppContext.BaseDirectory}");
    }
}
