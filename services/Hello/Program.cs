using Platform.Hello;

// A tiny service for the local run (dev/Host, tye.yaml, dapr.yaml) until the sample services replace it.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddDaprClient();
builder.Services.AddHealthChecks().AddCheck<SidecarHealthCheck>("dapr-sidecar");

var app = builder.Build();
app.MapHealthChecks("/health");
app.MapHelloApi();
app.Run();
