using Platform.Live;
using Platform.Live.Edge;
using Platform.Live.Follower;
using Platform.Live.Leader;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults(LiveTelemetry.ServiceName);
var role = builder.AddLive();

var app = builder.Build();
app.MapDefaultEndpoints();

// Dapr delivers the streams as CloudEvents: unwrap them, and tell the sidecar what this role subscribes to.
app.UseCloudEvents();
app.MapSubscribeHandler();

if (role == LiveRole.Leader)
{
    app.MapLeaderApi();
}
else
{
    // The dashboard (wwwroot: plain HTML/CSS/JS, nothing from the internet), the users' streams, the page's commands.
    app.UseDefaultFiles();
    app.UseStaticFiles();
    app.MapFollowerApi();
    app.MapEdgeApi();
}

app.Run();
