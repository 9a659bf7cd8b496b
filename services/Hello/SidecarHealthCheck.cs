using Dapr.Client;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Platform.Hello;

/// <summary>Healthy while the sidecar answers: without it this service can do nothing useful.</summary>
public sealed class SidecarHealthCheck(DaprClient dapr) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        await dapr.CheckOutboundHealthAsync(cancellationToken)
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("the Dapr sidecar does not answer");
}
