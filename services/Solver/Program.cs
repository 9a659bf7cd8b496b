using Platform.ServiceDefaults;
using Platform.Solver;
using Platform.Solver.Load;
using Platform.Solver.Search;

Program.Build(args).Run();

/// <summary>The service's table of contents; tests build the same app on a loopback port behind their own sidecar.</summary>
public partial class Program
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults(SolverNames.Service);
        builder.AddSolver();

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapSearchApi();
        app.MapLoadApi();
        return app;
    }
}
