using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Platform.ServiceDefaults;

/// <summary>What every C# service of the platform adds first and maps last.</summary>
public static class Extensions
{
    /// <summary>
    /// OpenTelemetry (traces, metrics, logs; exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set),
    /// health checks (liveness, and readiness that includes the sidecar), the Dapr client, and problem details.
    /// </summary>
    /// <param name="builder">the service's host builder</param>
    /// <param name="serviceName">the service's name: its ActivitySource and Meter carry it</param>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder, string serviceName)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = BadRequestHandler.Describe);
        // Binding failures throw (instead of a silent bare 400) so BadRequestHandler can say what was wrong.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<BadRequestHandler>();
        // A number sent as a JSON string ("amount": "10") is refused (400 malformed-json naming the field): the web
        // defaults would read it as a number, so a client's bug would pass unnoticed as a valid command.
        builder.Services.Configure<Microsoft.AspNetCore.Http.Json.JsonOptions>(o => o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict);
        // The only client a service uses to reach anything: its own sidecar (DAPR_HTTP_PORT / DAPR_GRPC_PORT).
        builder.Services.AddDaprClient();

        builder.Logging.AddOpenTelemetry(o =>
        {
            o.IncludeFormattedMessage = true;
            o.IncludeScopes = true;
        });
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithMetrics(m => m.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddRuntimeInstrumentationIfPresent().AddMeter(serviceName))
            .WithTracing(t => t
                .AddSource(serviceName)
                // Health probes from Kubernetes and the sidecar would drown the real traffic.
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments(HealthPath) && !ctx.Request.Path.StartsWithSegments(AlivePath))
                .AddHttpClientInstrumentation());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }

        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag])
            .AddCheck<SidecarHealthCheck>("dapr-sidecar", tags: [ReadyTag]);
        return builder;
    }

    /// <summary>
    /// <c>/alive</c> (liveness: the process answers) and <c>/health</c> (readiness: this process and its sidecar's
    /// outbound health). Mapped in every environment: Kubernetes and Dapr probe them in production too.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapHealthChecks(HealthPath);
        app.MapHealthChecks(AlivePath, new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        return app;
    }

    private static MeterProviderBuilder AddRuntimeInstrumentationIfPresent(this MeterProviderBuilder m) => m.AddMeter("System.Runtime");

    private const string LiveTag = "live";
    private const string ReadyTag = "ready";
    private static readonly PathString HealthPath = "/health";
    private static readonly PathString AlivePath = "/alive";
}

/// <summary>Ready only when the sidecar can reach its components (<c>GET /v1.0/healthz/outbound</c>).</summary>
internal sealed class SidecarHealthCheck(DaprClient dapr) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        await dapr.CheckOutboundHealthAsync(cancellationToken)
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("the Dapr sidecar is not ready (GET /v1.0/healthz/outbound failed)");
}
