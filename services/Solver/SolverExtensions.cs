using System.Diagnostics;
using System.Diagnostics.Metrics;
using Platform.Solver.Load;
using Platform.Solver.Search;

namespace Platform.Solver;

public static class SolverExtensions
{
    public static readonly ActivitySource Activity = new(SolverNames.Service);
    public static readonly Meter Meter = new(SolverNames.Service);

    public static WebApplicationBuilder AddSolver(this WebApplicationBuilder builder)
    {
        builder.Services.Configure<SolverOptions>(builder.Configuration.GetSection("Solver"));
        builder.Services.PostConfigure<SolverOptions>(o =>
        {
            // dev/Host names every replica (APP_INSTANCE); elsewhere the pod or machine name and the process id do.
            o.ReplicaId ??= builder.Configuration["APP_INSTANCE"] ?? $"{Environment.MachineName}-{Environment.ProcessId}";
        });
        builder.Services.AddSingleton<SolverLoad>();
        builder.Services.AddSingleton<AnnealerCache>();
        builder.Services.AddHostedService<LoadReporter>();
        return builder;
    }
}

/// <summary>From configuration section <c>Solver</c>.</summary>
public sealed class SolverOptions
{
    /// <summary>How this replica names itself in results and on <c>solver-load</c>.</summary>
    public string? ReplicaId { get; set; }

    /// <summary>How often the load is published (the contract says about once a second).</summary>
    public TimeSpan LoadInterval { get; set; } = TimeSpan.FromSeconds(1);
}
