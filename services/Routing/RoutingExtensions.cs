using System.Diagnostics;
using System.Diagnostics.Metrics;
using Dapr.Client;
using Platform.Routing.Jobs;

namespace Platform.Routing;

public static class RoutingExtensions
{
    public static readonly ActivitySource Activity = new(RoutingNames.Service);
    public static readonly Meter Meter = new(RoutingNames.Service);

    public static WebApplicationBuilder AddRouting(this WebApplicationBuilder builder)
    {
        builder.Services.Configure<RoutingOptions>(builder.Configuration.GetSection("Routing"));
        builder.Services.AddSingleton<ShippedInstances>();
        // "http://solver/search" goes to our sidecar's /v1.0/invoke/solver/method/search: the sidecar picks the replica
        // (round-robin), caps it (app-max-concurrency) and retries elsewhere (Resiliency) — the one retry layer.
        // Each call carries its own deadline (see JobActor), so the client itself has none.
        builder.Services.AddHttpClient(RoutingNames.Solver, http =>
            {
                http.BaseAddress = new Uri($"http://{RoutingNames.Solver}");
                http.Timeout = Timeout.InfiniteTimeSpan;
            })
            .AddHttpMessageHandler(services => new InvocationHandler { DaprEndpoint = SidecarHttpEndpoint(services.GetRequiredService<IConfiguration>()) });
        builder.Services.AddActors(o =>
        {
            // Each job is an actor: its rounds, a cancel and a read never interleave, and the sidecar places jobs
            // over Routing's replicas. A round runs in a reminder callback, so a job outlives a Routing restart.
            o.Actors.RegisterActor<JobActor>();
            o.UseJsonSerialization = true;
            o.ActorIdleTimeout = TimeSpan.FromMinutes(10);
            if (builder.Configuration["DAPR_HTTP_ENDPOINT"] is { Length: > 0 } endpoint)
            {
                o.HttpEndpoint = endpoint;
            }
        });
        return builder;
    }

    // The SDK's rule (its DaprDefaults is internal): DAPR_HTTP_ENDPOINT, else 127.0.0.1:DAPR_HTTP_PORT, else :3500.
    private static string SidecarHttpEndpoint(IConfiguration configuration) =>
        configuration["DAPR_HTTP_ENDPOINT"] is { Length: > 0 } endpoint ? endpoint : $"http://127.0.0.1:{configuration["DAPR_HTTP_PORT"] ?? "3500"}";
}

/// <summary>Limits and the round length, from configuration section <c>Routing</c>.</summary>
public sealed class RoutingOptions
{
    public int MaxCities { get; set; } = 10_000;

    public int MaxBudgetMs { get; set; } = 600_000;

    public int MaxParallelism { get; set; } = 64;

    /// <summary>How long one round's sub-searches run (progress is published once a round).</summary>
    public int RoundMs { get; set; } = 500;
}
