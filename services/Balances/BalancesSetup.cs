using Dapr.Client;
using Platform.Balances.Ledger;
using Platform.Balances.ReadModel;
using Platform.Balances.Rebuild;

namespace Platform.Balances;

/// <summary>The service's wiring, in one place.</summary>
public static class BalancesSetup
{
    public static TBuilder AddBalances<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        // Stateless apart from the clients: the read model lives in the state store, so any number of replicas
        // can consume the stream side by side.
        builder.Services.AddSingleton<BalancesTelemetry>();
        builder.Services.AddSingleton<Projector>();
        builder.Services.AddSingleton<Rebuilder>();
        builder.Services.AddSingleton<LedgerClient>();
        builder.Services.AddSingleton(TimeProvider.System);

        // "http://ledger/..." goes to our sidecar's /v1.0/invoke/ledger/method/...; the sidecar's Resiliency policy
        // is the one retry layer. The endpoint is resolved from configuration as the SDK resolves DaprClient's.
        builder.Services.AddHttpClient(Components.LedgerAppId, http =>
            {
                http.BaseAddress = new Uri($"http://{Components.LedgerAppId}");
                http.Timeout = TimeSpan.FromSeconds(30);
            })
            .AddHttpMessageHandler(services => new InvocationHandler { DaprEndpoint = SidecarHttpEndpoint(services.GetRequiredService<IConfiguration>()) });
        return builder;
    }

    // The SDK's rule (its DaprDefaults is internal): DAPR_HTTP_ENDPOINT, else 127.0.0.1:DAPR_HTTP_PORT, else :3500.
    private static string SidecarHttpEndpoint(IConfiguration configuration) =>
        configuration["DAPR_HTTP_ENDPOINT"] is { Length: > 0 } endpoint ? endpoint : $"http://127.0.0.1:{configuration["DAPR_HTTP_PORT"] ?? "3500"}";
}
