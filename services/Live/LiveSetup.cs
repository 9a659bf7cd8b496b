using Dapr.Client;
using Platform.Live.Follower;
using Platform.Live.Leader;

namespace Platform.Live;

/// <summary>The service's wiring, in one place. One project, two roles: <c>Live:Role</c> = leader | follower.</summary>
public static class LiveSetup
{
    public static LiveRole AddLive(this WebApplicationBuilder builder)
    {
        builder.Services.Configure<LiveOptions>(builder.Configuration.GetSection("Live"));
        var role = builder.Configuration.GetSection("Live").Get<LiveOptions>()?.Role ?? LiveRole.Follower;
        builder.Services.AddSingleton(TimeProvider.System);

        if (role == LiveRole.Leader)
        {
            // One replica: the views are computed once, from one consumer group per stream.
            builder.Services.AddSingleton<ViewsLeader>();
            builder.Services.AddHostedService<LeaderWorker>();
            return role;
        }

        // Any number of replicas: each mirrors the leader and serves its own clients.
        builder.Services.AddSingleton<StreamHub>();
        builder.Services.AddSingleton<Mirror>();
        builder.Services.AddHostedService<FollowerWorker>();
        // "http://live-leader/..." goes to our sidecar's /v1.0/invoke/live-leader/method/...; the sidecar's
        // Resiliency policy is the one retry layer.
        foreach (var appId in new[] { Components.LeaderAppId, Components.LedgerAppId, Components.RoutingAppId })
        {
            builder.Services.AddHttpClient(appId, http =>
                {
                    http.BaseAddress = new Uri($"http://{appId}/");
                    http.Timeout = TimeSpan.FromSeconds(30);
                })
                .AddHttpMessageHandler(services => new InvocationHandler { DaprEndpoint = SidecarHttpEndpoint(services.GetRequiredService<IConfiguration>()) });
        }

        return role;
    }

    // The SDK's rule (its DaprDefaults is internal): DAPR_HTTP_ENDPOINT, else 127.0.0.1:DAPR_HTTP_PORT, else :3500.
    private static string SidecarHttpEndpoint(IConfiguration configuration) =>
        configuration["DAPR_HTTP_ENDPOINT"] is { Length: > 0 } endpoint ? endpoint : $"http://127.0.0.1:{configuration["DAPR_HTTP_PORT"] ?? "3500"}";
}
