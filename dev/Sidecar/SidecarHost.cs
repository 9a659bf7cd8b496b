using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Sidecar.Actors;
using Platform.Sidecar.Api;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.PubSub;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar;

/// <summary>
/// A running Dapr-compatible sidecar: the HTTP API (HTTP/1.1) and the gRPC API (HTTP/2 without TLS, as the
/// SDKs expect) on two loopback ports, its components, and its connection to the app. Start as many as you
/// like in one process; each finds the others (and those of other processes) through the name registry.
/// </summary>
public sealed class SidecarHost : IAsyncDisposable
{
    private readonly WebApplication _web;
    private readonly SidecarRuntime _runtime;
    private readonly IDisposable _registration;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _startup;
    private readonly ILogger _logger;
    private int _disposed;

    private SidecarHost(WebApplication web, SidecarRuntime runtime, IDisposable registration, int httpPort, int grpcPort, ILogger logger)
    {
        _web = web;
        _runtime = runtime;
        _registration = registration;
        _logger = logger;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
        _startup = Task.Run(() => ConnectAppAsync(_stopping.Token));
    }

    /// <summary>The app-id this sidecar serves.</summary>
    public string AppId => _runtime.AppId;

    /// <summary>The port of the HTTP API.</summary>
    public int HttpPort { get; }

    /// <summary>The port of the gRPC API.</summary>
    public int GrpcPort { get; }

    /// <summary>The HTTP API's base address, e.g. for <c>DaprClientBuilder.UseHttpEndpoint</c>.</summary>
    public string HttpEndpoint => $"http://127.0.0.1:{HttpPort}";

    /// <summary>The gRPC API's address, e.g. for <c>DaprClientBuilder.UseGrpcEndpoint</c>.</summary>
    public string GrpcEndpoint => $"http://127.0.0.1:{GrpcPort}";

    /// <summary>Completes once the app answers and its subscriptions are running.</summary>
    public Task Ready => _runtime.Ready;

    /// <summary>Cancelled when the app asks the sidecar to shut down.</summary>
    public CancellationToken ShutdownRequested => _runtime.ShutdownRequested;

    /// <summary>The subscriptions in effect (from the app and from Subscription resources).</summary>
    public IReadOnlyList<SubscriptionSpec> Subscriptions => _runtime.Subscriber.Subscriptions;

    /// <summary>
    /// Loads the resources, initialises the components and starts both listeners. Throws
    /// <see cref="ResourceException"/> (naming the file and field) when a resource cannot be used.
    /// </summary>
    public static async Task<SidecarHost> StartAsync(SidecarOptions options, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(options.AppId))
        {
            throw new ArgumentException("an app id is required (--app-id)", nameof(options));
        }

        if (options.MaxBodySize <= 0)
        {
            throw new ArgumentException($"the max body size must be positive (--max-body-size), not {options.MaxBodySize}", nameof(options));
        }

        var loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger($"sidecar.{options.AppId}");
        var resources = ResourceLoader.Load(options.ResourcesPaths, options.AppId);
        var configuration = DaprConfiguration.Load(options.ConfigPath);
        options = options with
        {
            ApiToken = options.ApiToken ?? (Environment.GetEnvironmentVariable("DAPR_API_TOKEN") is { Length: > 0 } api ? api : null),
            AppApiToken = options.AppApiToken ?? (Environment.GetEnvironmentVariable("APP_API_TOKEN") is { Length: > 0 } appToken ? appToken : null),
        };
        var registryFolder = Path.GetFullPath(options.RegistryFolder ?? NameRegistry.DefaultFolder);
        var registry = new NameRegistry(registryFolder); // first: a registry folder others can use stops the start before any connection is made
        var components = await Components.InitAsync(resources, options.AppId, registryFolder, logger, TimeProvider.System);
        var app = new AppChannel(options.AppChannelAddress, options.AppPort, options.AppMaxConcurrency, options.AppApiToken, options.AppProtocol);
        IAppChannel channel = options.AppProtocol == AppProtocol.Grpc
            ? new GrpcAppChannel(app, options.AppId, options.ApiToken is not null, options.MaxBodySize, logger)
            : new HttpAppChannel(app, options.AppId, options.ApiToken is not null, logger);
        var instanceId = $"{Environment.ProcessId}-{Guid.NewGuid():N}"[..24];
        var tracing = new Tracing(options.AppId, instanceId, configuration.Tracing);
        var invoker = new Invoker(options.AppId, instanceId, registry, channel, logger, tracing, resources.Apps, configuration.AccessControl);
        var consumerId = new ConsumerId(options.AppId, options.PodName ?? Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName,
            Environment.GetEnvironmentVariable("NAMESPACE") ?? "default");
        var subscriber = new Subscriber(components, channel, options.AppId, consumerId, logger, tracing);
        var actors = new ActorService(options.AppId, instanceId, components, app, registry, logger, TimeProvider.System);
        var runtime = new SidecarRuntime(options, components, app, invoker, subscriber, tracing, actors)
        {
            SecretScopes = configuration.Secrets,
            Channel = channel,
            Bindings = new Bindings.BindingsService(components, app, channel, logger),
            Workflows = new Workflows.WorkflowOperations(new Workflows.WorkflowEngine(components, options.AppId, logger), options.AppId),
        };

        // The sidecar reads no appsettings: without this, the host watches the current folder and everything under
        // it for changes (inotify on every subfolder, a thread busy with every file written there), in every sidecar.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(runtime);
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = (int)Math.Min(options.MaxBodySize, int.MaxValue);
            o.Interceptors.Add<ApiTokenInterceptor>();
            o.Interceptors.Add<DaprErrorInterceptor>();
        });
        ListenOptions? http = null, grpc = null;
        // Read each request straight into a buffer: Kestrel's default first waits with a zero-byte read for data to
        // arrive, one more system call per request received (apps, peers and the gRPC API each send one per call).
        builder.WebHost.UseSockets(s => s.WaitForDataBeforeAllocatingBuffer = false);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxBodySize; // gRPC lifts it per call and applies MaxReceiveMessageSize
            k.Listen(IPAddress.Loopback, options.HttpPort, l =>
            {
                l.Protocols = HttpProtocols.Http1;
                http = l;
            });
            k.Listen(IPAddress.Loopback, options.GrpcPort, l =>
            {
                l.Protocols = HttpProtocols.Http2;
                grpc = l;
            });
        });

        var web = builder.Build();
        HttpApi.Map(web);
        web.MapGrpcService<DaprGrpcService>();
        web.MapGrpcService<WorkflowGrpcService>(); // the Durable Task protocol of Dapr.Workflow, on the same port
        try
        {
            await web.StartAsync(ct);
        }
        catch (IOException e)
        {
            await components.DisposeAsync();
            throw new InvalidOperationException($"sidecar {options.AppId}: cannot listen on HTTP port {options.HttpPort} / gRPC port {options.GrpcPort}: {e.Message}", e);
        }

        var httpPort = ((IPEndPoint)http!.EndPoint).Port;
        var grpcPort = ((IPEndPoint)grpc!.EndPoint).Port;
        var replica = new Replica(options.AppId, instanceId, $"http://127.0.0.1:{httpPort}", Environment.ProcessId);
        var registration = registry.Register(replica);
        actors.Attach(replica);
        logger.LogInformation("Sidecar {AppId} listening: HTTP {HttpPort}, gRPC {GrpcPort}", options.AppId, httpPort, grpcPort);
        return new SidecarHost(web, runtime, registration, httpPort, grpcPort, logger);
    }

    private async Task ConnectAppAsync(CancellationToken ct)
    {
        try
        {
            if (_runtime.App.Port is { } port)
            {
                // daprd blocks until the app port accepts TCP before it asks the app anything (runtime.go blockUntilAppIsReady).
                await WaitForPortAsync(_runtime.Options.AppChannelAddress, port, ct);
                var specs = await _runtime.Subscriber.DiscoverAsync(ct);
                specs.AddRange(_runtime.Components.Resources.Subscriptions.Select(s =>
                    new SubscriptionSpec(s.PubSubName, s.Topic, s.Rules, s.DeadLetterTopic, s.Metadata, s.File, s.Bulk)));
                await _runtime.Subscriber.StartAsync(specs, ct);
                await _runtime.Bindings.StartInputAsync(ct); // daprd: StartReadingFromBindings once the app is ready
            }

            // GET /dapr/config: the actor types the app hosts; registers them for placement (no app port or a gRPC app: none).
            await _runtime.Actors.StartAsync(ct);
            _runtime.MarkReady();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Sidecar {AppId} could not connect to its app", AppId);
        }
    }

    private static async Task WaitForPortAsync(string host, int port, CancellationToken ct)
    {
        while (true)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(host, port, ct);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, ct);
            }
        }
    }

    /// <summary>Stops the listeners and subscriptions, leaves the registry, and closes the components.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _registration.Dispose();
        await _stopping.CancelAsync();
        await _startup;
        await _runtime.Actors.DisposeAsync();
        await _runtime.Workflows.Engine.DisposeAsync();
        await _runtime.Subscriber.DisposeAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _web.StopAsync(timeout.Token);
        }

        await _web.DisposeAsync();
        await _runtime.Components.DisposeAsync();
        _runtime.Invoker.Dispose();
        _runtime.Tracing.Dispose();
        _runtime.Channel?.Dispose();
        _runtime.App.Dispose();
        _stopping.Dispose();
    }
}
