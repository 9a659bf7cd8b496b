using Platform.Hello;
using Platform.ServiceDefaults;

// A tiny service for the local run (dev/Host, tye.yaml, dapr.yaml) until the sample services replace it.
var builder = WebApplication.CreateBuilder(args);
// Health (/alive, and /health with the sidecar), OpenTelemetry, the Dapr client: what Kubernetes probes.
builder.AddServiceDefaults("hello");

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapHelloApi();
app.Run();
