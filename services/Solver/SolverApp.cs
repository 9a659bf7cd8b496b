using Platform.ServiceDefaults;
using Platform.Solver.Load;
using Platform.Solver.Search;

namespace Platform.Solver;

/// <summary>The service's table of contents; tests and the benchmark build the same app behind their own sidecars.</summary>
public static class SolverApp
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
