using Platform.Routing;
using Platform.Routing.Jobs;
using Platform.ServiceDefaults;

Program.Build(args).Run();

/// <summary>The service's table of contents; tests build the same app on a loopback port behind their own sidecar.</summary>
public partial class Program
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
