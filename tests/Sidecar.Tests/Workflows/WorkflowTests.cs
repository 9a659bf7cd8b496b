using Dapr.Workflow;
using Grpc.Core;
using Grpc.Net.Client;
using Proto = Dapr.Client.Autogen.Grpc.v1;

namespace Platform.Sidecar.Tests.Workflows;

/// <summary>
/// Workflows with the official <c>Dapr.Workflow</c> SDK against the sidecar's Durable Task service (daprd's
/// <c>pkg/runtime/wfengine</c>): start, status, activity retries, timers, external events, child workflows,
/// terminate, purge, pause/resume and a workflow that throws, on in-memory and on Redis, and the management API's
/// errors over HTTP. With <c>DAPR_CONFORMANCE_HTTP_ENDPOINT</c>/<c>DAPR_CONFORMANCE_GRPC_ENDPOINT</c> set, the
/// single-sidecar tests run against that daprd instead (its actor state store enabled).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class WorkflowTests(RedisServer redis)
{
    private const string AppId = "orders";

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>A cluster on one backend, its single sidecar (or the external daprd) and the workflow app behind it.</summary>
    private sealed class Setup(Cluster cluster, (string Http, string Grpc) sidecar, WorkflowApp app) : IAsyncDisposable
    {
        public Cluster Cluster { get; } = cluster;

        public (string Http, string Grpc) Sidecar { get; } = sidecar;

        public WorkflowApp App { get; } = app;

        public DaprWorkflowClient Client => App.Client;

        public async ValueTask DisposeAsync()
        {
            await App.DisposeAsync();
            await Cluster.DisposeAsync();
        }
    }

    private async Task<Setup> StartAsync(Backend backend)
    {
        var cluster = Cluster.Create(backend, redis);
        var sidecar = await cluster.SingleSidecarAsync(AppId);
        return new Setup(cluster, sidecar, await WorkflowApp.StartAsync(sidecar.Grpc));
    }

    private static string NewId(string what) => $"{what}-{Guid.NewGuid():N}";

    private static async Task<WorkflowState> CompletionAsync(DaprWorkflowClient client, string id)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        return await client.WaitForWorkflowCompletionAsync(id, cancellation: timeout.Token);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Start_Status_Completes_WithTheActivityOutput(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("hello");

        Assert.Equal(id, await setup.Client.ScheduleNewWorkflowAsync("Hello", id, "Ada"));
        var state = await CompletionAsync(setup.Client, id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("Hello Ada!", state.ReadOutputAs<string>());
        Assert.Equal("Ada", state.ReadInputAs<string>());
        var again = await setup.Client.GetWorkflowStateAsync(id);
        Assert.True(again.Exists);
        Assert.Equal("Hello", again.WorkflowName);
        Assert.Equal(WorkflowRuntimeStatus.Completed, again.RuntimeStatus);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task ActivityFailingTwice_UnderARetryPolicyOfThree_Succeeds_OnTheThirdAttempt(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("flaky");

        await setup.Client.ScheduleNewWorkflowAsync("Flaky", id, id);
        var state = await CompletionAsync(setup.Client, id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal(3, state.ReadOutputAs<int>());
        Assert.Equal(3, WorkflowApp.Attempts[id]);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task DurableTimer_FiresAfterItsDueTime(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("sleep");
        const int delayMs = 1500;

        await setup.Client.ScheduleNewWorkflowAsync("Sleep", id, delayMs);
        var running = await setup.Client.GetWorkflowStateAsync(id);
        Assert.Equal(WorkflowRuntimeStatus.Running, running.RuntimeStatus); // waits on the timer, not done at once
        var state = await CompletionAsync(setup.Client, id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("woke", state.ReadOutputAs<string>());
        Assert.True(state.LastUpdatedAt - state.CreatedAt >= TimeSpan.FromMilliseconds(delayMs),
            $"completed {(state.LastUpdatedAt - state.CreatedAt).TotalMilliseconds} ms after creation, before the timer's {delayMs} ms");
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task ExternalEvent_RaisedAfterTheWorkflowWaits_CompletesIt(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("approval");

        await setup.Client.ScheduleNewWorkflowAsync("Approval", id, "");
        await Poll.UntilAsync(async () => (await setup.Client.GetWorkflowStateAsync(id)).ReadCustomStatusAs<string>() == "waiting", "the workflow waiting", Deadline);
        await setup.Client.RaiseEventAsync(id, "approval", "yes");
        var state = await CompletionAsync(setup.Client, id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("yes", state.ReadOutputAs<string>());
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task ExternalEvent_RaisedBeforeTheWorkflowWaitsForIt_IsKept_AndDelivered(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("two");

        await setup.Client.ScheduleNewWorkflowAsync("TwoEvents", id, "");
        await setup.Client.RaiseEventAsync(id, "second", "b"); // the workflow waits for "first" now
        await setup.Client.RaiseEventAsync(id, "first", "a");
        var state = await CompletionAsync(setup.Client, id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("a+b", state.ReadOutputAs<string>());
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task ChildWorkflow_Completes_AndItsOutputReachesTheParent(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("parent");

        await setup.Client.ScheduleNewWorkflowAsync("Parent", id, "Bob");
        var state = await CompletionAsync(setup.Client, id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("Hello Bob! (via child)", state.ReadOutputAs<string>());
        var child = await setup.Client.GetWorkflowStateAsync(id + "-child");
        Assert.True(child.Exists);
        Assert.Equal("Hello", child.WorkflowName);
        Assert.Equal(WorkflowRuntimeStatus.Completed, child.RuntimeStatus);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Terminate_EndsAWaitingWorkflow_AsTerminated(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("terminate");

        await setup.Client.ScheduleNewWorkflowAsync("Approval", id, "");
        await setup.Client.WaitForWorkflowStartAsync(id);
        await setup.Client.TerminateWorkflowAsync(id);
        var state = await CompletionAsync(setup.Client, id);

        Assert.Equal(WorkflowRuntimeStatus.Terminated, state.RuntimeStatus);
        await setup.Client.RaiseEventAsync(id, "approval", "too late");
        Assert.Equal(WorkflowRuntimeStatus.Terminated, (await setup.Client.GetWorkflowStateAsync(id)).RuntimeStatus);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Purge_OfAFinishedWorkflow_RemovesIt_ARunningOneIsRefused(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var done = NewId("purged");
        var running = NewId("running");
        await setup.Client.ScheduleNewWorkflowAsync("Hello", done, "Eve");
        await CompletionAsync(setup.Client, done);
        await setup.Client.ScheduleNewWorkflowAsync("Approval", running, "");
        await setup.Client.WaitForWorkflowStartAsync(running);

        Assert.True(await setup.Client.PurgeInstanceAsync(done));
        await Assert.ThrowsAnyAsync<Exception>(() => setup.Client.PurgeInstanceAsync(running));

        Assert.False((await setup.Client.GetWorkflowStateAsync(done)).Exists);
        Assert.True((await setup.Client.GetWorkflowStateAsync(running)).Exists);
        if (backend == Backend.Redis && Cluster.External is null)
        {
            Assert.False(await redis.Db.KeyExistsAsync($"{AppId}||dapr.internal.default.{AppId}.workflow||{done}||metadata"));
            Assert.True(await redis.Db.KeyExistsAsync($"{AppId}||dapr.internal.default.{AppId}.workflow||{running}||metadata"));
        }
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task WorkflowThatThrows_IsFailed_WithTheFailureDetails(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("throws");

        await setup.Client.ScheduleNewWorkflowAsync("Throws", id, "boom");
        var state = await CompletionAsync(setup.Client, id);

        Assert.Equal(WorkflowRuntimeStatus.Failed, state.RuntimeStatus);
        Assert.NotNull(state.FailureDetails);
        Assert.Equal(typeof(InvalidOperationException).FullName, state.FailureDetails!.ErrorType);
        Assert.Equal("boom", state.FailureDetails.ErrorMessage);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Pause_HoldsEvents_Resume_DeliversThem(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("pause");
        await setup.Client.ScheduleNewWorkflowAsync("Approval", id, "");
        await Poll.UntilAsync(async () => (await setup.Client.GetWorkflowStateAsync(id)).ReadCustomStatusAs<string>() == "waiting", "the workflow waiting", Deadline);

        await setup.Client.SuspendWorkflowAsync(id);
        Assert.Equal(WorkflowRuntimeStatus.Suspended, (await setup.Client.GetWorkflowStateAsync(id)).RuntimeStatus);
        await setup.Client.RaiseEventAsync(id, "approval", "while paused");
        Assert.Equal(WorkflowRuntimeStatus.Suspended, (await setup.Client.GetWorkflowStateAsync(id)).RuntimeStatus);

        await setup.Client.ResumeWorkflowAsync(id);
        var state = await CompletionAsync(setup.Client, id);
        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("while paused", state.ReadOutputAs<string>());
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task UnknownWorkflowName_Fails_AndRaiseToAnUnknownInstance_IsRefused_CreatingNothing(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        var id = NewId("nope");
        var ghost = NewId("ghost");

        await setup.Client.ScheduleNewWorkflowAsync("NoSuchWorkflow", id, "x");
        var state = await CompletionAsync(setup.Client, id);
        Assert.Equal(WorkflowRuntimeStatus.Failed, state.RuntimeStatus);
        Assert.Equal("WorkflowNotFound", state.FailureDetails?.ErrorType);

        await Assert.ThrowsAnyAsync<Exception>(() => setup.Client.RaiseEventAsync(ghost, "approval", "x"));
        Assert.False((await setup.Client.GetWorkflowStateAsync(ghost)).Exists);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Http_ManagementApi_StartGetRaisePurge(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        using var http = new HttpClient { BaseAddress = new Uri(setup.Sidecar.Http) };
        var id = NewId("http");

        var start = await http.PostAsync($"/v1.0/workflows/dapr/Approval/start?instanceID={id}", new StringContent("\"\""));
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        Assert.Equal(id, (await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("instanceID").GetString());
        await Poll.UntilAsync(async () => (await setup.Client.GetWorkflowStateAsync(id)).ReadCustomStatusAs<string>() == "waiting", "the workflow waiting", Deadline);

        var running = await http.GetFromJsonAsync<JsonElement>($"/v1.0/workflows/dapr/{id}");
        Assert.Equal(id, running.GetProperty("instanceID").GetString());
        Assert.Equal("Approval", running.GetProperty("workflowName").GetString());
        Assert.Equal("RUNNING", running.GetProperty("runtimeStatus").GetString());

        var raise = await http.PostAsync($"/v1.0/workflows/dapr/{id}/raiseEvent/approval", new StringContent("\"ok\""));
        Assert.Equal(HttpStatusCode.Accepted, raise.StatusCode);
        await CompletionAsync(setup.Client, id);
        var done = await http.GetFromJsonAsync<JsonElement>($"/v1.0/workflows/dapr/{id}");
        Assert.Equal("COMPLETED", done.GetProperty("runtimeStatus").GetString());
        Assert.Equal("\"ok\"", done.GetProperty("properties").GetProperty("dapr.workflow.output").GetString());

        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync($"/v1.0/workflows/dapr/{id}/purge", null)).StatusCode);
        await AssertErrorAsync(await http.GetAsync($"/v1.0/workflows/dapr/{id}"), HttpStatusCode.NotFound, "ERR_INSTANCE_ID_NOT_FOUND");
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Http_BadRequests_GetDaprdsErrorCodes_AndChangeNothing(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        using var http = new HttpClient { BaseAddress = new Uri(setup.Sidecar.Http) };
        var ghost = NewId("ghost");

        await AssertErrorAsync(await http.PostAsync("/v1.0/workflows/dapr/Hello/start?instanceID=bad.id!", new StringContent("\"x\"")),
            HttpStatusCode.BadRequest, "ERR_INSTANCE_ID_INVALID");
        await AssertErrorAsync(await http.PostAsync($"/v1.0/workflows/dapr/Hello/start?instanceID={new string('a', 65)}", new StringContent("\"x\"")),
            HttpStatusCode.BadRequest, "ERR_INSTANCE_ID_TOO_LONG");
        await AssertErrorAsync(await http.PostAsync($"/v1.0/workflows/dapr/{ghost}/raiseEvent/approval", new StringContent("1")),
            HttpStatusCode.InternalServerError, "ERR_RAISE_EVENT_WORKFLOW");
        await AssertErrorAsync(await http.PostAsync($"/v1.0/workflows/dapr/{ghost}/terminate", null), HttpStatusCode.NotFound, "ERR_INSTANCE_ID_NOT_FOUND");
        await AssertErrorAsync(await http.PostAsync($"/v1.0/workflows/dapr/{ghost}/purge", null), HttpStatusCode.NotFound, "ERR_INSTANCE_ID_NOT_FOUND");
        await AssertErrorAsync(await http.PostAsync($"/v1.0/workflows/dapr/{ghost}/pause", null), HttpStatusCode.InternalServerError, "ERR_PAUSE_WORKFLOW");

        Assert.False((await setup.Client.GetWorkflowStateAsync("bad.id!")).Exists);
        Assert.False((await setup.Client.GetWorkflowStateAsync(ghost)).Exists);
        await AssertErrorAsync(await http.GetAsync($"/v1.0/workflows/dapr/{ghost}"), HttpStatusCode.NotFound, "ERR_INSTANCE_ID_NOT_FOUND");
        if (backend == Backend.Redis && Cluster.External is null)
        {
            Assert.False(await redis.Db.KeyExistsAsync($"{AppId}||dapr.internal.default.{AppId}.workflow||{ghost}||metadata"));
        }
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Start_WithTheIdOfAnActiveWorkflow_IsRefused_AndLeavesItRunning(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        using var http = new HttpClient { BaseAddress = new Uri(setup.Sidecar.Http) };
        var id = NewId("dup");
        await setup.Client.ScheduleNewWorkflowAsync("Approval", id, "");
        await setup.Client.WaitForWorkflowStartAsync(id);

        await Assert.ThrowsAnyAsync<Exception>(() => setup.Client.ScheduleNewWorkflowAsync("Hello", id, "x"));
        await AssertErrorAsync(await http.PostAsync($"/v1.0/workflows/dapr/Hello/start?instanceID={id}", new StringContent("\"x\"")),
            HttpStatusCode.InternalServerError, "ERR_START_WORKFLOW");

        var state = await setup.Client.GetWorkflowStateAsync(id);
        Assert.Equal(WorkflowRuntimeStatus.Running, state.RuntimeStatus);
        Assert.Equal("Approval", state.WorkflowName);
        Assert.Equal("", state.ReadInputAs<string>());
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task DaprGrpc_WorkflowBeta1_StartGetRaise_AndBadIdsAreInvalidArgument(Backend backend)
    {
        await using var setup = await StartAsync(backend);
        using var channel = GrpcChannel.ForAddress(setup.Sidecar.Grpc);
        var raw = new Proto.Dapr.DaprClient(channel);
        var id = NewId("beta");

        var started = await raw.StartWorkflowBeta1Async(new Proto.StartWorkflowRequest
        {
            InstanceId = id, WorkflowComponent = "dapr", WorkflowName = "Approval", Input = Google.Protobuf.ByteString.CopyFromUtf8("\"\""),
        });
        Assert.Equal(id, started.InstanceId);
        await Poll.UntilAsync(async () => (await raw.GetWorkflowBeta1Async(new Proto.GetWorkflowRequest { InstanceId = id })).RuntimeStatus == "RUNNING",
            "the workflow running", Deadline);
        await raw.RaiseEventWorkflowBeta1Async(new Proto.RaiseEventWorkflowRequest
        {
            InstanceId = id, WorkflowComponent = "dapr", EventName = "approval", EventData = Google.Protobuf.ByteString.CopyFromUtf8("\"granted\""),
        });
        await CompletionAsync(setup.Client, id);
        var done = await raw.GetWorkflowBeta1Async(new Proto.GetWorkflowRequest { InstanceId = id });
        Assert.Equal("COMPLETED", done.RuntimeStatus);
        Assert.Equal("Approval", done.WorkflowName);
        Assert.Equal("\"granted\"", done.Properties["dapr.workflow.output"]);

        var bad = await Assert.ThrowsAsync<RpcException>(async () => await raw.StartWorkflowBeta1Async(new Proto.StartWorkflowRequest
        {
            InstanceId = "bad id", WorkflowComponent = "dapr", WorkflowName = "Hello",
        }));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        var noName = await Assert.ThrowsAsync<RpcException>(async () => await raw.StartWorkflowBeta1Async(new Proto.StartWorkflowRequest { InstanceId = NewId("x") }));
        Assert.Equal(StatusCode.InvalidArgument, noName.StatusCode);
        var noEvent = await Assert.ThrowsAsync<RpcException>(async () => await raw.RaiseEventWorkflowBeta1Async(new Proto.RaiseEventWorkflowRequest { InstanceId = id }));
        Assert.Equal(StatusCode.InvalidArgument, noEvent.StatusCode);
        var missing = await raw.GetWorkflowBeta1Async(new Proto.GetWorkflowRequest { InstanceId = NewId("ghost") });
        Assert.Equal("", missing.WorkflowName); // daprd answers a missing instance with an empty response, no error
        Assert.False((await setup.Client.GetWorkflowStateAsync("bad id")).Exists);
    }

    /// <summary>A workflow waiting on its timer survives a restart of its sidecar and app (history, inbox and timer in Redis).</summary>
    [Fact]
    public async Task Redis_SidecarAndAppRestart_MidTimer_TheWorkflowStillCompletes()
    {
        await using var cluster = Cluster.Create(Backend.Redis, redis);
        var id = NewId("restart");
        var sidecar = await cluster.StartSidecarAsync(AppId);
        var app = await WorkflowApp.StartAsync(sidecar.GrpcEndpoint);
        await app.Client.ScheduleNewWorkflowAsync("Sleep", id, 3000);
        Assert.Equal(WorkflowRuntimeStatus.Running, (await app.Client.GetWorkflowStateAsync(id)).RuntimeStatus);
        await Poll.UntilAsync(() => redis.Db.KeyExistsAsync($"{AppId}||dapr.internal.default.{AppId}.workflow||{id}||history-000002"), "the TimerCreated saved", Deadline);

        await app.DisposeAsync();
        await cluster.StopAsync(sidecar);

        var again = await cluster.StartSidecarAsync(AppId);
        await using var app2 = await WorkflowApp.StartAsync(again.GrpcEndpoint);
        var state = await CompletionAsync(app2.Client, id);
        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("woke", state.ReadOutputAs<string>());
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string errorCode)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal(errorCode, JsonDocument.Parse(body).RootElement.GetProperty("errorCode").GetString());
    }
}
