using System.Collections.Concurrent;
using Platform.Sidecar.Actors;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.PubSub;
using Platform.Sidecar.State;

namespace Platform.Sidecar;

/// <summary>Everything the two APIs share in one sidecar.</summary>
public sealed class SidecarRuntime(SidecarOptions options, Components components, AppChannel app, Invoker invoker, Subscriber subscriber, Tracing tracing, ActorService actors)
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _shutdown = new();

    public SidecarOptions Options { get; } = options;

    public string AppId => Options.AppId;

    public Components Components { get; } = components;

    public AppChannel App { get; } = app;

    /// <summary>The operations on the app over its protocol (<c>--app-protocol</c>); the bindings work delivers events through it.</summary>
    public IAppChannel? Channel { get; init; }

    public Invoker Invoker { get; } = invoker;

    public Subscriber Subscriber { get; } = subscriber;

    /// <summary>The actor runtime: hosted types, placement, active actors, timers and reminders.</summary>
    public ActorService Actors { get; } = actors;

    public StateService State { get; } = new(components, options.AppId);

    public Publisher Publisher { get; } = new(components, options.AppId, tracing);

    public Tracing Tracing { get; } = tracing;

    /// <summary>The distributed lock API's operations.</summary>
    public Locks.LockService Locks { get; } = new(components, options.AppId);

    /// <summary>The configuration API's operations.</summary>
    public Configuration.ConfigurationService Configuration { get; } = new(components, app);

    /// <summary>Which secrets the secrets API hands out (<c>spec.secrets.scopes</c> of the Configuration).</summary>
    public Resources.SecretScopes SecretScopes { get; init; } = Resources.SecretScopes.None;

    /// <summary>The secrets API's operations, under <see cref="SecretScopes"/>.</summary>
    public Secrets.SecretsService Secrets => field ??= new(Components, SecretScopes);

    /// <summary>Output bindings and the delivery of input binding events to the app.</summary>
    public Bindings.BindingsService Bindings { get; init; } = null!;

    /// <summary>The workflow engine and the workflow management API's operations.</summary>
    public Workflows.WorkflowOperations Workflows { get; init; } = null!;

    /// <summary>Circuit breakers of the Resiliency policies for actor types this sidecar calls.</summary>
    public ConcurrentDictionary<string, Invocation.CircuitBreaker> ActorBreakers { get; } = new(StringComparer.Ordinal);

    /// <summary>Values apps set with <c>PUT /v1.0/metadata/{key}</c>, returned under <c>extended</c>.</summary>
    public ConcurrentDictionary<string, string> Extended { get; } = new(StringComparer.Ordinal);

    /// <summary>Completes when the app is reachable and its subscriptions run (<c>/v1.0/healthz</c> turns 204).</summary>
    public Task Ready => _ready.Task;

    public bool IsReady => _ready.Task.IsCompletedSuccessfully;

    internal void MarkReady() => _ready.TrySetResult();

    /// <summary>Cancelled when an app asks the sidecar to shut down (<c>POST /v1.0/shutdown</c>).</summary>
    public CancellationToken ShutdownRequested => _shutdown.Token;

    internal void RequestShutdown() => _shutdown.Cancel();
}
