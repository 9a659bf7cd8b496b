using System.Text;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using V1 = Dapr.Client.Autogen.Grpc.v1;

namespace Platform.Sidecar.Api;

/// <summary>
/// The workflow management API over HTTP (dapr/dapr <c>pkg/api/http/workflow.go</c>), under <c>/v1.0</c>,
/// <c>/v1.0-beta1</c> and <c>/v1.0-alpha1</c>: start (the body is the raw input, <c>?instanceID=</c> the id,
/// 202 <c>{"instanceID":…}</c>), get (the <c>GetWorkflowResponse</c> as protojson; 404 <c>ERR_INSTANCE_ID_NOT_FOUND</c>
/// when there is none), terminate, raiseEvent (the body is the raw event data), pause, resume and purge (202, no body).
/// The <c>{workflowComponent}</c> segment is not checked, as in daprd (the SDKs send <c>dapr</c>).
/// </summary>
internal static partial class HttpApi
{
    static partial void MapWorkflows(IEndpointRouteBuilder web)
    {
        foreach (var version in new[] { "v1.0", "v1.0-beta1", "v1.0-alpha1" })
        {
            var prefix = $"/{version}/workflows/{{workflowComponent}}";
            web.MapGet(prefix + "/{instanceId}", GetWorkflow);
            web.MapPost(prefix + "/{workflowName}/start", StartWorkflow);
            web.MapPost(prefix + "/{instanceId}/terminate", (HttpContext ctx, SidecarRuntime rt, string instanceId) =>
                Accepted(rt.Workflows.TerminateAsync(instanceId, AppIdQuery(ctx), ctx.RequestAborted)));
            web.MapPost(prefix + "/{instanceId}/raiseEvent/{eventName}", RaiseWorkflowEvent);
            web.MapPost(prefix + "/{instanceId}/pause", (HttpContext ctx, SidecarRuntime rt, string instanceId) =>
                Accepted(rt.Workflows.PauseAsync(instanceId, AppIdQuery(ctx), ctx.RequestAborted)));
            web.MapPost(prefix + "/{instanceId}/resume", (HttpContext ctx, SidecarRuntime rt, string instanceId) =>
                Accepted(rt.Workflows.ResumeAsync(instanceId, AppIdQuery(ctx), ctx.RequestAborted)));
            web.MapPost(prefix + "/{instanceId}/purge", (HttpContext ctx, SidecarRuntime rt, string instanceId) =>
                Accepted(rt.Workflows.PurgeAsync(instanceId, AppIdQuery(ctx), ctx.RequestAborted)));
        }
    }

    /// <summary>daprd's <c>workflowAppID</c> query parameter (<c>?appID=</c>).</summary>
    private static string? AppIdQuery(HttpContext ctx) => ctx.Request.Query["appID"] is { Count: > 0 } q ? q[0] : null;

    private static async Task<IResult> Accepted(Task operation)
    {
        await operation;
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> GetWorkflow(HttpContext ctx, SidecarRuntime rt, string instanceId)
    {
        var info = await rt.Workflows.GetAsync(instanceId, AppIdQuery(ctx), ctx.RequestAborted)
            ?? throw Workflows.WorkflowErrors.InstanceNotFound(instanceId);
        return Results.Text(JsonFormatter.Default.Format(info.ToResponse()), JsonContentType, Encoding.UTF8);
    }

    private static async Task<IResult> StartWorkflow(HttpContext ctx, SidecarRuntime rt, string workflowName)
    {
        var input = Encoding.UTF8.GetString(await ReadBody(ctx));
        var instanceId = ctx.Request.Query["instanceID"] is { Count: > 0 } q ? q[0] : null;
        var id = await rt.Workflows.StartAsync(workflowName, instanceId, input, null, AppIdQuery(ctx), ctx.RequestAborted);
        var response = new V1.StartWorkflowResponse { InstanceId = id };
        return Results.Text(JsonFormatter.Default.Format(response), JsonContentType, Encoding.UTF8, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> RaiseWorkflowEvent(HttpContext ctx, SidecarRuntime rt, string instanceId, string eventName)
    {
        var data = await ReadBody(ctx);
        await rt.Workflows.RaiseEventAsync(instanceId, eventName, Encoding.UTF8.GetString(data), AppIdQuery(ctx), ctx.RequestAborted);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }
}
