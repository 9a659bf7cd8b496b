using System.Globalization;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Platform.Sidecar.Workflows;

/// <summary>What the workflow management API reports of an instance (daprd's <c>GetWorkflowResponse</c>).</summary>
public sealed record WorkflowInfo(string InstanceId, string WorkflowName, Timestamp CreatedAt, Timestamp LastUpdatedAt, string RuntimeStatus,
    IReadOnlyDictionary<string, string> Properties)
{
    /// <summary>As both APIs answer it: the gRPC message, which the HTTP API writes in its JSON form.</summary>
    public Dapr.Client.Autogen.Grpc.v1.GetWorkflowResponse ToResponse()
    {
        var response = new Dapr.Client.Autogen.Grpc.v1.GetWorkflowResponse
        {
            InstanceId = InstanceId,
            WorkflowName = WorkflowName,
            CreatedAt = CreatedAt,
            LastUpdatedAt = LastUpdatedAt,
            RuntimeStatus = RuntimeStatus,
        };
        response.Properties.Add(Properties.ToDictionary());
        return response;
    }
}

/// <summary>
/// The workflow management API's operations, one implementation for HTTP (<c>/v1.0…/workflows/dapr/…</c>) and the
/// Dapr gRPC <c>…WorkflowBeta1</c>/<c>…WorkflowAlpha1</c> methods, after daprd's <c>pkg/api/universal/workflow.go</c>:
/// the same validation, the same error codes, then the engine.
/// </summary>
public sealed class WorkflowOperations(WorkflowEngine engine, string appId)
{
    /// <summary>The engine underneath (the Durable Task gRPC service talks to it directly).</summary>
    public WorkflowEngine Engine => engine;

    /// <summary>daprd's <c>statusMap</c>: the runtime status names the management API reports.</summary>
    private static readonly Dictionary<OrchestrationStatus, string> StatusNames = new()
    {
        [OrchestrationStatus.Running] = "RUNNING",
        [OrchestrationStatus.Completed] = "COMPLETED",
        [OrchestrationStatus.ContinuedAsNew] = "CONTINUED_AS_NEW",
        [OrchestrationStatus.Failed] = "FAILED",
        [OrchestrationStatus.Canceled] = "CANCELED",
        [OrchestrationStatus.Terminated] = "TERMINATED",
        [OrchestrationStatus.Pending] = "PENDING",
        [OrchestrationStatus.Suspended] = "SUSPENDED",
        [OrchestrationStatus.Stalled] = "STALLED",
    };

    public static string StatusName(OrchestrationStatus status) => StatusNames.TryGetValue(status, out var name) ? name : "UNKNOWN";

    /// <summary>The instance, or null when there is none (HTTP answers 404 for that, gRPC an empty response).</summary>
    public async Task<WorkflowInfo?> GetAsync(string instanceId, string? targetAppId, CancellationToken ct)
    {
        ValidateInstanceId(instanceId, create: false);
        ValidateAppId(targetAppId);
        var state = await engine.GetStateAsync(instanceId, withPayloads: true, ct);
        if (state is null)
        {
            return null;
        }

        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        if (state.CustomStatus is not null)
        {
            properties["dapr.workflow.custom_status"] = state.CustomStatus;
        }

        if (state.Input is not null)
        {
            properties["dapr.workflow.input"] = state.Input;
        }

        if (state.Output is not null && state.FailureDetails is null)
        {
            properties["dapr.workflow.output"] = state.Output;
        }

        if (state.FailureDetails is { } failure)
        {
            properties["dapr.workflow.failure.error_type"] = failure.ErrorType;
            properties["dapr.workflow.failure.error_message"] = failure.ErrorMessage;
            if (failure.StackTrace is { } trace)
            {
                properties["dapr.workflow.failure.stack_trace"] = trace;
            }
        }

        return new WorkflowInfo(instanceId, state.Name, state.CreatedTimestamp, state.LastUpdatedTimestamp, StatusName(state.WorkflowStatus), properties);
    }

    /// <summary>Starts an instance; the id is generated when empty; <c>dapr.workflow.start_time</c> (RFC 3339) delays it.</summary>
    public async Task<string> StartAsync(string workflowName, string? instanceId, string? input, IReadOnlyDictionary<string, string>? options, string? targetAppId,
        CancellationToken ct)
    {
        var id = string.IsNullOrEmpty(instanceId) ? Guid.NewGuid().ToString() : instanceId;
        ValidateInstanceId(id, create: true);
        if (string.IsNullOrEmpty(workflowName))
        {
            throw WorkflowErrors.NameMissing();
        }

        ValidateAppId(targetAppId);
        Timestamp? startAt = null;
        if (options is not null && options.TryGetValue("dapr.workflow.start_time", out var startTime))
        {
            if (!DateTimeOffset.TryParseExact(startTime, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFFFK"], CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal, out var at))
            {
                throw WorkflowErrors.Start(workflowName, "start times must be in RFC3339 format (e.g. \"2009-11-10T23:00:00Z\")");
            }

            startAt = Timestamp.FromDateTimeOffset(at);
        }

        try
        {
            return await engine.StartAsync(workflowName, id, input, startAt, ct);
        }
        catch (WorkflowDuplicateException e)
        {
            throw WorkflowErrors.Start(workflowName, $"unable to start workflow: {e.Message}");
        }
    }

    public async Task TerminateAsync(string instanceId, string? targetAppId, CancellationToken ct)
    {
        ValidateInstanceId(instanceId, create: false);
        ValidateAppId(targetAppId);
        try
        {
            await engine.TerminateAsync(instanceId, null, recursive: true, ct);
        }
        catch (WorkflowNotFoundException)
        {
            throw WorkflowErrors.InstanceNotFound(instanceId);
        }
    }

    public async Task RaiseEventAsync(string instanceId, string eventName, string? data, string? targetAppId, CancellationToken ct)
    {
        ValidateInstanceId(instanceId, create: false);
        if (string.IsNullOrEmpty(eventName))
        {
            throw WorkflowErrors.EventNameMissing();
        }

        ValidateAppId(targetAppId);
        try
        {
            await engine.RaiseEventAsync(instanceId, eventName, data, ct);
        }
        catch (WorkflowNotFoundException e)
        {
            throw WorkflowErrors.RaiseEvent(instanceId, $"failed to raise event {eventName} on workflow {instanceId}: {e.Message}");
        }
    }

    public async Task PauseAsync(string instanceId, string? targetAppId, CancellationToken ct)
    {
        ValidateInstanceId(instanceId, create: false);
        ValidateAppId(targetAppId);
        try
        {
            await engine.SuspendAsync(instanceId, null, ct);
        }
        catch (WorkflowNotFoundException e)
        {
            throw WorkflowErrors.Pause(instanceId, $"failed to pause workflow {instanceId}: {e.Message}");
        }
    }

    public async Task ResumeAsync(string instanceId, string? targetAppId, CancellationToken ct)
    {
        ValidateInstanceId(instanceId, create: false);
        ValidateAppId(targetAppId);
        try
        {
            await engine.ResumeAsync(instanceId, null, ct);
        }
        catch (WorkflowNotFoundException e)
        {
            throw WorkflowErrors.Resume(instanceId, $"failed to resume workflow {instanceId}: {e.Message}");
        }
    }

    public async Task PurgeAsync(string instanceId, string? targetAppId, CancellationToken ct)
    {
        ValidateInstanceId(instanceId, create: false);
        ValidateAppId(targetAppId);
        try
        {
            await engine.PurgeAsync(instanceId, recursive: true, ct);
        }
        catch (WorkflowNotFoundException)
        {
            throw WorkflowErrors.InstanceNotFound(instanceId);
        }
        catch (WorkflowStateException e)
        {
            throw WorkflowErrors.Purge(instanceId, $"failed to Purge workflow {instanceId}: {e.Message}");
        }
    }

    /// <summary>daprd's <c>validateInstanceID</c>: required; on create at most 64 letters, digits, '-' and '_'.</summary>
    private static void ValidateInstanceId(string? id, bool create)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw WorkflowErrors.InstanceIdMissing();
        }

        if (create)
        {
            if (id.Length > WorkflowErrors.MaxInstanceIdLength)
            {
                throw WorkflowErrors.InstanceIdTooLong();
            }

            if (!id.All(c => char.IsLetterOrDigit(c) || c is '_' or '-'))
            {
                throw WorkflowErrors.InstanceIdInvalid(id);
            }
        }
    }

    /// <summary>daprd's <c>targetAppID</c>: this app (or none) runs here; another valid id is not supported by this sidecar.</summary>
    private void ValidateAppId(string? target)
    {
        if (string.IsNullOrEmpty(target) || target == appId)
        {
            return;
        }

        if (!target.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw WorkflowErrors.AppIdInvalid(target);
        }

        throw new Api.DaprError("ERR_WORKFLOW_APP_ID_INVALID", $"workflow app ID '{target}' is not served here: this sidecar runs the workflows of its own app only", 400,
            Grpc.Core.StatusCode.InvalidArgument);
    }
}
