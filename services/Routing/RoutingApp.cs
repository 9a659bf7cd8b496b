using Platform.Routing.Jobs;
using Platform.ServiceDefaults;

namespace Platform.Routing;

/// <summary>The service's table of contents; tests and the benchmark build the same app behind their own sidecars.</summary>
public static class RoutingApp
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults(RoutingNames.Service);
        builder.AddRouting();

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapActorsHandlers();
        app.MapJobsApi();
        return app;
    }
}
