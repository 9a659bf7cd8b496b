using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar;

/// <summary>
/// W3C trace context on every hop the sidecar makes (to a peer sidecar, to its app, into a CloudEvent, on a
/// delivery): each hop is a child span of the incoming <c>traceparent</c> (or the root of a new trace), and the
/// outgoing request carries that span's <c>traceparent</c>. Spans are exported over OTLP when the Configuration
/// names a collector. Each sidecar has its own ActivitySource and exporter, so spans of several sidecars in one
/// process are attributed to their own app-id.
/// </summary>
public sealed class Tracing : IDisposable
{
    private readonly ActivitySource _source;
    private readonly TracerProvider? _provider;

    public Tracing(string appId, string instanceId, TracingSettings? settings)
    {
        _source = new ActivitySource($"Platform.Sidecar.{instanceId}");
        if (settings?.OtlpEndpoint is { } endpoint)
        {
            _provider = Sdk.CreateTracerProviderBuilder()
                .AddSource(_source.Name)
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(settings.SamplingRate)))
                .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService(appId, serviceInstanceId: instanceId))
                .AddOtlpExporter(o =>
                {
                    o.Protocol = settings.OtlpGrpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = settings.OtlpGrpc ? new Uri(endpoint) : new Uri(endpoint.TrimEnd('/') + "/v1/traces");
                    o.ExportProcessorType = ExportProcessorType.Batch;
                    o.BatchExportProcessorOptions = new BatchExportActivityProcessorOptions { ScheduledDelayMilliseconds = 500 };
                })
                .Build();
        }
    }

    /// <summary>Starts the span for one hop; <see cref="Hop.Traceparent"/> is what the next request carries.</summary>
    public Hop Start(string name, ActivityKind kind, string? traceparent, string? tracestate)
    {
        ActivityContext.TryParse(traceparent, tracestate, isRemote: true, out var parent);
        var activity = parent == default ? _source.StartActivity(name, kind) : _source.StartActivity(name, kind, parent);
        if (activity is not null)
        {
            return new Hop(activity, activity.Id!, activity.TraceStateString ?? tracestate);
        }

        // No exporter listening: still propagate a child context, as daprd does whatever its sampling.
        var traceId = parent == default ? ActivityTraceId.CreateRandom() : parent.TraceId;
        var flags = parent == default ? "01" : ((int)parent.TraceFlags).ToString("x2", System.Globalization.CultureInfo.InvariantCulture);
        return new Hop(null, $"00-{traceId}-{ActivitySpanId.CreateRandom()}-{flags}", tracestate);
    }

    public void Dispose()
    {
        _provider?.ForceFlush(2000);
        _provider?.Dispose();
        _source.Dispose();
    }

    /// <summary>A hop's span (null when nothing samples it) and the context to send on.</summary>
    public sealed class Hop(Activity? activity, string traceparent, string? tracestate) : IDisposable
    {
        public string Traceparent { get; } = traceparent;

        public string? Tracestate { get; } = tracestate;

        public void Fail(string error) => activity?.SetStatus(ActivityStatusCode.Error, error);

        public void Tag(string key, object? value) => activity?.SetTag(key, value);

        public void Dispose() => activity?.Dispose();
    }
}
