using Platform.Orders;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults(OrdersNames.AppId);

var app = builder.Build();
app.MapDefaultEndpoints();

// Dapr delivers events as CloudEvents: unwrap them, and tell the sidecar what this service subscribes to.
app.UseCloudEvents();
app.MapSubscribeHandler();

app.MapOrdersApi();

app.Run();
