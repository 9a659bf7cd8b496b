using Dapr.DurableTask.Protobuf;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Platform.Sidecar.Workflows;
using V1 = Dapr.Client.Autogen.Grpc.v1;

namespace Platform.Sidecar.Api;

/// <summary>
/// The Durable Task protocol's <c>TaskHubSidecarService</c> (dapr/durabletask-protobuf
/// <c>orchestrator_service.proto</c>, the messages from <c>Dapr.Workflow.Grpc</c>), a second gRPC service on the
/// sidecar's gRPC port, as daprd serves it for the <c>Dapr.Workflow</c> SDK: the worker's <c>GetWorkItems</c> stream
/// and completions, and the client's management calls. Each method translates to <see cref="WorkflowEngine"/> as
/// durabletask-go's <c>backend/executor.go</c> does (StartInstance waits for the start, TerminateInstance for the
/// end, Suspend/Resume for the status; a missing instance is <c>exists: false</c> on reads and
/// "no such instance exists" on writes).
/// </summary>
[BindServiceMethod(typeof(WorkflowGrpcService), nameof(BindService))]
public class WorkflowGrpcService(SidecarRuntime rt)
{
    /// <summary>The proto has no package: the service's full name is its bare name.</summary>
    public const string ServiceName = "TaskHubSidecarService";

    private WorkflowEngine Engine => rt.Workflows.Engine;

    public static void BindService(ServiceBinderBase binder, WorkflowGrpcService? service)
    {
        Add<Empty, Empty>(binder, nameof(Hello));
        Add<CreateInstanceRequest, CreateInstanceResponse>(binder, nameof(StartInstance));
        Add<GetInstanceRequest, GetInstanceResponse>(binder, nameof(GetInstance));
        Add<GetInstanceRequest, GetInstanceResponse>(binder, nameof(WaitForInstanceStart));
        Add<GetInstanceRequest, GetInstanceResponse>(binder, nameof(WaitForInstanceCompletion));
        Add<RaiseEventRequest, RaiseEventResponse>(binder, nameof(RaiseEvent));
        Add<TerminateRequest, TerminateResponse>(binder, nameof(TerminateInstance));
        Add<SuspendRequest, SuspendResponse>(binder, nameof(SuspendInstance));
        Add<ResumeRequest, ResumeResponse>(binder, nameof(ResumeInstance));
        Add<PurgeInstancesRequest, PurgeInstancesResponse>(binder, nameof(PurgeInstances));
        binder.AddMethod(ProtobufMethod.Create<GetWorkItemsRequest, WorkItem>(MethodType.ServerStreaming, ServiceName, nameof(GetWorkItems)),
            (ServerStreamingServerMethod<GetWorkItemsRequest, WorkItem>)null!);
        Add<ActivityResponse, CompleteTaskResponse>(binder, nameof(CompleteActivityTask));
        Add<WorkflowResponse, CompleteTaskResponse>(binder, nameof(CompleteOrchestratorTask));
        Add<WorkflowResponse, CompleteTaskResponse>(binder, nameof(CompleteWorkflowTask));
        Add<ListInstanceIDsRequest, ListInstanceIDsResponse>(binder, nameof(ListInstanceIDs));
        Add<GetInstanceHistoryRequest, GetInstanceHistoryResponse>(binder, nameof(GetInstanceHistory));
    }

    private static void Add<TRequest, TResponse>(ServiceBinderBase binder, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        binder.AddMethod(ProtobufMethod.Create<TRequest, TResponse>(MethodType.Unary, ServiceName, name), (UnaryServerMethod<TRequest, TResponse>)null!);

    public virtual Task<Empty> Hello(Empty request, ServerCallContext context) => Task.FromResult(new Empty());

    public virtual async Task<CreateInstanceResponse> StartInstance(CreateInstanceRequest request, ServerCallContext context)
    {
        string id;
        try
        {
            id = await Engine.StartAsync(request.Name, request.InstanceId, request.Input, request.ScheduledStartTimestamp, context.CancellationToken);
        }
        catch (WorkflowDuplicateException e)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, e.Message));
        }

        if (request.ScheduledStartTimestamp is null)
        {
            await Engine.WaitAsync(id, s => s != OrchestrationStatus.Pending, false, context.CancellationToken);
        }

        return new CreateInstanceResponse { InstanceId = id };
    }

    public virtual async Task<GetInstanceResponse> GetInstance(GetInstanceRequest request, ServerCallContext context) =>
        Response(await Engine.GetStateAsync(request.InstanceId, request.GetInputsAndOutputs, context.CancellationToken));

    public virtual async Task<GetInstanceResponse> WaitForInstanceStart(GetInstanceRequest request, ServerCallContext context) =>
        Response(await Engine.WaitAsync(request.InstanceId, s => s != OrchestrationStatus.Pending, request.GetInputsAndOutputs, context.CancellationToken));

    public virtual async Task<GetInstanceResponse> WaitForInstanceCompletion(GetInstanceRequest request, ServerCallContext context) =>
        Response(await Engine.WaitAsync(request.InstanceId, IsComplete, request.GetInputsAndOutputs, context.CancellationToken));

    public virtual async Task<RaiseEventResponse> RaiseEvent(RaiseEventRequest request, ServerCallContext context)
    {
        await NotFoundAsUnknown(Engine.RaiseEventAsync(request.InstanceId, request.Name, request.Input, context.CancellationToken), "");
        return new RaiseEventResponse();
    }

    public virtual async Task<TerminateResponse> TerminateInstance(TerminateRequest request, ServerCallContext context)
    {
        await NotFoundAsUnknown(Engine.TerminateAsync(request.InstanceId, request.Output, request.Recursive, context.CancellationToken),
            "failed to submit termination request: ");
        await Engine.WaitAsync(request.InstanceId, IsComplete, false, context.CancellationToken);
        return new TerminateResponse();
    }

    public virtual async Task<SuspendResponse> SuspendInstance(SuspendRequest request, ServerCallContext context)
    {
        await NotFoundAsUnknown(Engine.SuspendAsync(request.InstanceId, request.Reason, context.CancellationToken), "");
        await Engine.WaitAsync(request.InstanceId, s => s == OrchestrationStatus.Suspended || IsComplete(s), false, context.CancellationToken);
        return new SuspendResponse();
    }

    public virtual async Task<ResumeResponse> ResumeInstance(ResumeRequest request, ServerCallContext context)
    {
        await NotFoundAsUnknown(Engine.ResumeAsync(request.InstanceId, request.Reason, context.CancellationToken), "");
        await Engine.WaitAsync(request.InstanceId, s => s == OrchestrationStatus.Running || IsComplete(s), false, context.CancellationToken);
        return new ResumeResponse();
    }

    public virtual async Task<PurgeInstancesResponse> PurgeInstances(PurgeInstancesRequest request, ServerCallContext context)
    {
        if (request.RequestCase != PurgeInstancesRequest.RequestOneofCase.InstanceId)
        {
            throw new RpcException(new Status(StatusCode.Unknown, "multi-instance purge is not implemented"));
        }

        try
        {
            return new PurgeInstancesResponse { DeletedInstanceCount = await Engine.PurgeAsync(request.InstanceId, request.Recursive, context.CancellationToken) };
        }
        catch (Exception e) when (e is WorkflowNotFoundException or WorkflowStateException)
        {
            throw new RpcException(new Status(StatusCode.Unknown, $"failed to purge workflow state: {e.Message}"));
        }
    }

    public virtual Task GetWorkItems(GetWorkItemsRequest request, IServerStreamWriter<WorkItem> responseStream, ServerCallContext context) =>
        Engine.StreamWorkItemsAsync(item => responseStream.WriteAsync(item, context.CancellationToken), context.CancellationToken);

    public virtual async Task<CompleteTaskResponse> CompleteActivityTask(ActivityResponse request, ServerCallContext context)
    {
        try
        {
            await Engine.CompleteActivityAsync(request, context.CancellationToken);
        }
        catch (WorkflowStateException e)
        {
            throw new RpcException(new Status(StatusCode.Unknown, e.Message));
        }

        return new CompleteTaskResponse();
    }

    /// <summary>The name the SDK calls (deprecated in the proto, kept for runtimes before 1.18) and its successor: one handler.</summary>
    public virtual Task<CompleteTaskResponse> CompleteOrchestratorTask(WorkflowResponse request, ServerCallContext context)
    {
        try
        {
            Engine.CompleteWorkflowTurn(request);
        }
        catch (WorkflowStateException e)
        {
            throw new RpcException(new Status(StatusCode.Unknown, e.Message));
        }

        return Task.FromResult(new CompleteTaskResponse());
    }

    public virtual Task<CompleteTaskResponse> CompleteWorkflowTask(WorkflowResponse request, ServerCallContext context) => CompleteOrchestratorTask(request, context);

    public virtual async Task<ListInstanceIDsResponse> ListInstanceIDs(ListInstanceIDsRequest request, ServerCallContext context)
    {
        var (ids, next) = await Engine.ListAsync(request.HasContinuationToken ? request.ContinuationToken : null,
            request.HasPageSize ? (int)Math.Min(request.PageSize, int.MaxValue) : 0, context.CancellationToken);
        var response = new ListInstanceIDsResponse();
        response.InstanceIds.AddRange(ids);
        if (next is not null)
        {
            response.ContinuationToken = next;
        }

        return response;
    }

    public virtual async Task<GetInstanceHistoryResponse> GetInstanceHistory(GetInstanceHistoryRequest request, ServerCallContext context)
    {
        var response = new GetInstanceHistoryResponse();
        try
        {
            response.Events.AddRange(await Engine.HistoryAsync(request.InstanceId, context.CancellationToken));
        }
        catch (WorkflowNotFoundException e)
        {
            throw new RpcException(new Status(StatusCode.NotFound, e.Message));
        }

        return response;
    }

    private static bool IsComplete(OrchestrationStatus s) =>
        s is OrchestrationStatus.Completed or OrchestrationStatus.Failed or OrchestrationStatus.Terminated or OrchestrationStatus.Canceled;

    private static GetInstanceResponse Response(WorkflowState? state) =>
        state is null ? new GetInstanceResponse { Exists = false } : new GetInstanceResponse { Exists = true, WorkflowState = state };

    private static async Task NotFoundAsUnknown(Task task, string prefix)
    {
        try
        {
            await task;
        }
        catch (WorkflowNotFoundException e)
        {
            throw new RpcException(new Status(StatusCode.Unknown, prefix + e.Message));
        }
    }
}

/// <summary>The workflow management API on the Dapr service (<c>…WorkflowBeta1</c> and the older <c>…WorkflowAlpha1</c>): the shared operations, translated.</summary>
public partial class DaprGrpcService
{
    static partial void BindWorkflows(ServiceBinderBase binder)
    {
        foreach (var version in new[] { "Beta1", "Alpha1" })
        {
            Add<V1.StartWorkflowRequest, V1.StartWorkflowResponse>(binder, "StartWorkflow" + version);
            Add<V1.GetWorkflowRequest, V1.GetWorkflowResponse>(binder, "GetWorkflow" + version);
            Add<V1.TerminateWorkflowRequest, Empty>(binder, "TerminateWorkflow" + version);
            Add<V1.RaiseEventWorkflowRequest, Empty>(binder, "RaiseEventWorkflow" + version);
            Add<V1.PauseWorkflowRequest, Empty>(binder, "PauseWorkflow" + version);
            Add<V1.ResumeWorkflowRequest, Empty>(binder, "ResumeWorkflow" + version);
            Add<V1.PurgeWorkflowRequest, Empty>(binder, "PurgeWorkflow" + version);
        }
    }

    public virtual async Task<V1.StartWorkflowResponse> StartWorkflowBeta1(V1.StartWorkflowRequest request, ServerCallContext context) => new()
    {
        InstanceId = await rt.Workflows.StartAsync(request.WorkflowName, request.InstanceId, request.Input.ToStringUtf8(), request.Options,
            request.HasAppId ? request.AppId : null, context.CancellationToken),
    };

    public virtual async Task<V1.GetWorkflowResponse> GetWorkflowBeta1(V1.GetWorkflowRequest request, ServerCallContext context)
    {
        var info = await rt.Workflows.GetAsync(request.InstanceId, request.HasAppId ? request.AppId : null, context.CancellationToken);
        if (info is null)
        {
            return new V1.GetWorkflowResponse { InstanceId = request.InstanceId };
        }

        return info.ToResponse();
    }

    public virtual async Task<Empty> TerminateWorkflowBeta1(V1.TerminateWorkflowRequest request, ServerCallContext context)
    {
        await rt.Workflows.TerminateAsync(request.InstanceId, request.HasAppId ? request.AppId : null, context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> RaiseEventWorkflowBeta1(V1.RaiseEventWorkflowRequest request, ServerCallContext context)
    {
        await rt.Workflows.RaiseEventAsync(request.InstanceId, request.EventName, request.EventData.IsEmpty ? null : request.EventData.ToStringUtf8(),
            request.HasAppId ? request.AppId : null, context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> PauseWorkflowBeta1(V1.PauseWorkflowRequest request, ServerCallContext context)
    {
        await rt.Workflows.PauseAsync(request.InstanceId, request.HasAppId ? request.AppId : null, context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> ResumeWorkflowBeta1(V1.ResumeWorkflowRequest request, ServerCallContext context)
    {
        await rt.Workflows.ResumeAsync(request.InstanceId, request.HasAppId ? request.AppId : null, context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> PurgeWorkflowBeta1(V1.PurgeWorkflowRequest request, ServerCallContext context)
    {
        await rt.Workflows.PurgeAsync(request.InstanceId, request.HasAppId ? request.AppId : null, context.CancellationToken);
        return new Empty();
    }

    public virtual Task<V1.StartWorkflowResponse> StartWorkflowAlpha1(V1.StartWorkflowRequest request, ServerCallContext context) => StartWorkflowBeta1(request, context);

    public virtual Task<V1.GetWorkflowResponse> GetWorkflowAlpha1(V1.GetWorkflowRequest request, ServerCallContext context) => GetWorkflowBeta1(request, context);

    public virtual Task<Empty> TerminateWorkflowAlpha1(V1.TerminateWorkflowRequest request, ServerCallContext context) => TerminateWorkflowBeta1(request, context);

    public virtual Task<Empty> RaiseEventWorkflowAlpha1(V1.RaiseEventWorkflowRequest request, ServerCallContext context) => RaiseEventWorkflowBeta1(request, context);

    public virtual Task<Empty> PauseWorkflowAlpha1(V1.PauseWorkflowRequest request, ServerCallContext context) => PauseWorkflowBeta1(request, context);

    public virtual Task<Empty> ResumeWorkflowAlpha1(V1.ResumeWorkflowRequest request, ServerCallContext context) => ResumeWorkflowBeta1(request, context);

    public virtual Task<Empty> PurgeWorkflowAlpha1(V1.PurgeWorkflowRequest request, ServerCallContext context) => PurgeWorkflowBeta1(request, context);
}
