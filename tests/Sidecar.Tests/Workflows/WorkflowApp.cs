using System.Collections.Concurrent;
using Dapr.Workflow;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Platform.Sidecar.Tests.Workflows;

/// <summary>
/// An app hosting workflows and activities with the official <c>Dapr.Workflow</c> SDK (<c>AddDaprWorkflow</c>): its
/// worker connects to the sidecar's gRPC port (<c>DAPR_GRPC_ENDPOINT</c>) and its <see cref="DaprWorkflowClient"/>
/// manages instances over the same port. The workflows are the ones the conformance tests need.
/// </summary>
public sealed class WorkflowApp : IAsyncDisposable
{
    private readonly IHost _host;

    private WorkflowApp(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<DaprWorkflowClient>();
    }

    public DaprWorkflowClient Client { get; }

    /// <summary>Activity calls per key (the flaky activity counts its attempts here).</summary>
    public static ConcurrentDictionary<string, int> Attempts { get; } = new(StringComparer.Ordinal);

    public static async Task<WorkflowApp> StartAsync(string grpcEndpoint)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["DAPR_GRPC_ENDPOINT"] = grpcEndpoint });
        builder.Services.AddDaprWorkflow(Register);
        var host = builder.Build();
        await host.StartAsync();
        return new WorkflowApp(host);
    }

    private static void Register(WorkflowRuntimeOptions o)
    {
        o.RegisterWorkflow<string, string>("Hello", async (ctx, name) => await ctx.CallActivityAsync<string>("Greet", name));
        o.RegisterActivity<string, string>("Greet", (_, name) => Task.FromResult($"Hello {name}!"));

        // fails the first two attempts of each key, then answers how many it took
        o.RegisterWorkflow<string, int>("Flaky", async (ctx, key) =>
            await ctx.CallActivityAsync<int>("FailTwice", key, new WorkflowTaskOptions(new WorkflowRetryPolicy(3, TimeSpan.FromMilliseconds(50)))));
        o.RegisterActivity<string, int>("FailTwice", (_, key) =>
        {
            var attempt = Attempts.AddOrUpdate(key, 1, (_, n) => n + 1);
            return attempt < 3 ? throw new InvalidOperationException($"attempt {attempt} fails") : Task.FromResult(attempt);
        });

        o.RegisterWorkflow<int, string>("Sleep", async (ctx, ms) =>
        {
            await ctx.CreateTimer(TimeSpan.FromMilliseconds(ms));
            return "woke";
        });

        o.RegisterWorkflow<string, string>("Approval", async (ctx, _) =>
        {
            ctx.SetCustomStatus("waiting");
            return await ctx.WaitForExternalEventAsync<string>("approval");
        });

        // waits for "first", then for "second": a "second" raised before "first" arrives before its wait
        o.RegisterWorkflow<string, string>("TwoEvents", async (ctx, _) =>
        {
            var first = await ctx.WaitForExternalEventAsync<string>("first");
            var second = await ctx.WaitForExternalEventAsync<string>("second");
            return first + "+" + second;
        });

        o.RegisterWorkflow<string, string>("Parent", async (ctx, name) =>
        {
            var child = await ctx.CallChildWorkflowAsync<string>("Hello", name, new ChildWorkflowTaskOptions(ctx.InstanceId + "-child"));
            return child + " (via child)";
        });

        o.RegisterWorkflow<string, string>("Throws", async (_, message) =>
        {
            await Task.CompletedTask;
            throw new InvalidOperationException(message);
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
