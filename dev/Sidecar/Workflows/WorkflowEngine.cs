using System.Collections.Concurrent;
using System.Threading.Channels;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;

namespace Platform.Sidecar.Workflows;

/// <summary>
/// The workflow engine of one sidecar, daprd's <c>pkg/runtime/wfengine</c> with durabletask-go's backend in small.
/// The app's <c>Dapr.Workflow</c> worker opens <c>GetWorkItems</c> and gets work items from here: a
/// <c>WorkflowRequest</c> (the instance's past events and its new ones) for each workflow turn, answered with
/// <c>CompleteOrchestratorTask</c>, and an <c>ActivityRequest</c> for each scheduled activity, answered with
/// <c>CompleteActivityTask</c>. A turn's actions become history events as durabletask-go's
/// <c>runtimestate.ApplyActions</c> makes them (each event's id is the action's id, which the SDK matches its tasks
/// by): <c>TaskScheduled</c> (and an activity work item), <c>TimerCreated</c> (and a durable timer that puts
/// <c>TimerFired</c> in the inbox), <c>ChildWorkflowInstanceCreated</c> (and the child's start, whose completion
/// comes back to the parent's inbox as <c>ChildWorkflowInstanceCompleted/Failed</c>), <c>EventSent</c>, and
/// <c>ExecutionCompleted</c>. Everything is saved in the actor state store (<see cref="WorkflowStore"/>) before it
/// takes effect, so after a restart the engine finds its instances again (the index), re-arms their timers from
/// the history and runs again activities that never reported back (as daprd, at least once).
/// </summary>
public sealed class WorkflowEngine : IAsyncDisposable
{
    private readonly WorkflowStore _store;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, InstanceRecord> _instances = new(StringComparer.Ordinal);
    private readonly Channel<PendingWork> _queue = Channel.CreateUnbounded<PendingWork>();
    private readonly ConcurrentDictionary<string, PendingWork> _inflight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _timers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _recovery = new(1, 1);
    private bool _recovered;

    public WorkflowEngine(Components components, string appId, ILogger logger)
    {
        _store = new WorkflowStore(components, appId, Environment.GetEnvironmentVariable("NAMESPACE") is { Length: > 0 } ns ? ns : "default");
        _logger = logger;
    }

    /// <summary>The workflow actor type daprd would register (its state keys live under it).</summary>
    public string WorkflowActorType => _store.WorkflowActorType;

    internal WorkflowStore Store => _store;

    // ---------------- management operations (StartInstance, GetInstance, RaiseEvent, ...) ----------------

    /// <summary>Creates an instance (durabletask-go <c>StartInstance</c>; daprd <c>orchestrator/create.go</c>): an active one with the id is refused, a finished one is replaced.</summary>
    public Task<string> StartAsync(string name, string? instanceId, string? input, Timestamp? startAt, CancellationToken ct) =>
        StartAsync(name, instanceId, input, startAt, null, ct);

    private async Task<string> StartAsync(string name, string? instanceId, string? input, Timestamp? startAt, ParentInstanceInfo? parent, CancellationToken ct)
    {
        var id = string.IsNullOrEmpty(instanceId) ? Guid.NewGuid().ToString() : instanceId;
        var instance = await GetAsync(id, ct);
        await instance.Gate.WaitAsync(ct);
        try
        {
            if (instance.Exists && !instance.IsTerminal)
            {
                throw new WorkflowDuplicateException(id);
            }

            if (instance.Exists)
            {
                instance.History = [];
                instance.Inbox = [];
                instance.CustomStatus = null;
                instance.HistoryReset = true;
                instance.Generation++;
            }

            instance.Inbox.Add(new HistoryEvent
            {
                EventId = -1,
                Timestamp = Timestamp.FromDateTime(DateTime.UtcNow),
                ExecutionStarted = new ExecutionStartedEvent
                {
                    Name = name,
                    Input = input,
                    WorkflowInstance = new WorkflowInstance { InstanceId = id, ExecutionId = Guid.NewGuid().ToString("N") },
                    ScheduledStartTimestamp = startAt,
                    ParentInstance = parent,
                },
            });
            await _store.SaveAsync(instance, ct);
            instance.Signal();
        }
        finally
        {
            instance.Gate.Release();
        }

        await _store.UpdateIndexAsync(id, add: true, ct);
        Kick(instance);
        return id;
    }

    /// <summary>The instance as the API reports it; null when it does not exist.</summary>
    public async Task<WorkflowState?> GetStateAsync(string id, bool withPayloads, CancellationToken ct)
    {
        var instance = await GetAsync(id, ct);
        return instance.Exists ? State(instance, withPayloads) : null;
    }

    /// <summary>Waits until <paramref name="done"/> holds for the instance's status (durabletask-go <c>waitForInstance</c>).</summary>
    public async Task<WorkflowState?> WaitAsync(string id, Func<OrchestrationStatus, bool> done, bool withPayloads, CancellationToken ct)
    {
        var instance = await GetAsync(id, ct);
        while (true)
        {
            var changed = instance.Changed.Task;
            if (!instance.Exists)
            {
                return null;
            }

            if (done(instance.Status))
            {
                return State(instance, withPayloads);
            }

            await changed.WaitAsync(ct);
        }
    }

    /// <summary>Puts an event in the instance's inbox and runs it (RaiseEvent, terminate, suspend, resume).</summary>
    public async Task AddEventAsync(string id, HistoryEvent e, CancellationToken ct)
    {
        var instance = await GetAsync(id, ct);
        await instance.Gate.WaitAsync(ct);
        try
        {
            if (!instance.Exists)
            {
                throw new WorkflowNotFoundException();
            }

            instance.Inbox.Add(e);
            await _store.SaveAsync(instance, ct);
            instance.Signal();
        }
        finally
        {
            instance.Gate.Release();
        }

        Kick(instance);
    }

    public Task RaiseEventAsync(string id, string name, string? input, CancellationToken ct) =>
        AddEventAsync(id, NewEvent(e => e.EventRaised = new EventRaisedEvent { Name = name, Input = input }), ct);

    public Task TerminateAsync(string id, string? output, bool recursive, CancellationToken ct) =>
        AddEventAsync(id, NewEvent(e => e.ExecutionTerminated = new ExecutionTerminatedEvent { Input = output, Recurse = recursive }), ct);

    public Task SuspendAsync(string id, string? reason, CancellationToken ct) =>
        AddEventAsync(id, NewEvent(e => e.ExecutionSuspended = new ExecutionSuspendedEvent { Input = string.IsNullOrEmpty(reason) ? null : reason }), ct);

    public Task ResumeAsync(string id, string? reason, CancellationToken ct) =>
        AddEventAsync(id, NewEvent(e => e.ExecutionResumed = new ExecutionResumedEvent { Input = string.IsNullOrEmpty(reason) ? null : reason }), ct);

    /// <summary>Deletes a finished instance's state (and, recursively, its children's); returns how many were deleted.</summary>
    public async Task<int> PurgeAsync(string id, bool recursive, CancellationToken ct)
    {
        var instance = await GetAsync(id, ct);
        List<string> children;
        await instance.Gate.WaitAsync(ct);
        try
        {
            if (!instance.Exists)
            {
                throw new WorkflowNotFoundException();
            }

            if (!instance.IsTerminal)
            {
                throw new WorkflowStateException("orchestration has not yet completed");
            }

            children = [.. instance.History.Where(e => e.ChildWorkflowInstanceCreated is not null).Select(e => e.ChildWorkflowInstanceCreated.InstanceId)];
            await _store.DeleteAsync(instance, ct);
            instance.Signal();
        }
        finally
        {
            instance.Gate.Release();
        }

        await _store.UpdateIndexAsync(id, add: false, ct);
        var count = 1;
        if (recursive)
        {
            foreach (var child in children)
            {
                try
                {
                    count += await PurgeAsync(child, recursive, ct);
                }
                catch (WorkflowNotFoundException)
                {
                }
            }
        }

        return count;
    }

    /// <summary>The ids in this app's index, in creation order, a page at a time (<c>ListInstanceIDs</c>).</summary>
    public async Task<(List<string> Ids, string? Next)> ListAsync(string? continuation, int pageSize, CancellationToken ct)
    {
        var all = await _store.ListAsync(ct);
        var start = int.TryParse(continuation, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 0;
        var size = pageSize > 0 ? pageSize : all.Count;
        var page = all.Skip(start).Take(size).ToList();
        var next = start + page.Count < all.Count ? (start + page.Count).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        return (page, next);
    }

    public async Task<IReadOnlyList<HistoryEvent>> HistoryAsync(string id, CancellationToken ct)
    {
        var instance = await GetAsync(id, ct);
        return instance.Exists ? [.. instance.History] : throw new WorkflowNotFoundException();
    }

    private static HistoryEvent NewEvent(Action<HistoryEvent> set)
    {
        var e = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(DateTime.UtcNow) };
        set(e);
        return e;
    }

    private static WorkflowState State(InstanceRecord instance, bool withPayloads)
    {
        var started = instance.StartedEvent!;
        var completed = instance.Completed;
        var last = instance.History.Count > 0 ? instance.History[^1].Timestamp : started.Timestamp;
        var state = new WorkflowState
        {
            InstanceId = instance.Id,
            Name = started.ExecutionStarted.Name,
            WorkflowStatus = instance.Status,
            CreatedTimestamp = started.Timestamp,
            LastUpdatedTimestamp = last,
            ExecutionId = started.ExecutionStarted.WorkflowInstance?.ExecutionId,
            ScheduledStartTimestamp = started.ExecutionStarted.ScheduledStartTimestamp,
        };
        if (instance.History.FirstOrDefault(e => e.WorkflowStarted is not null) is { } first)
        {
            state.StartedAt = first.Timestamp;
        }

        if (completed is not null)
        {
            state.CompletedTimestamp = instance.History.Last(e => e.ExecutionCompleted is not null).Timestamp;
        }

        if (started.ExecutionStarted.ParentInstance?.WorkflowInstance?.InstanceId is { Length: > 0 } parent)
        {
            state.ParentInstanceId = parent;
        }

        if (withPayloads)
        {
            state.Input = started.ExecutionStarted.Input;
            state.Output = completed?.Result;
            state.CustomStatus = instance.CustomStatus?.Value;
            state.FailureDetails = completed?.FailureDetails;
        }

        return state;
    }

    /// <summary>The instance's record, loaded from the store on first use (then its timers and work are armed again).</summary>
    private async Task<InstanceRecord> GetAsync(string id, CancellationToken ct)
    {
        var instance = _instances.GetOrAdd(id, static i => new InstanceRecord(i));
        if (instance.Loaded)
        {
            return instance;
        }

        await instance.Gate.WaitAsync(ct);
        try
        {
            if (instance.Loaded)
            {
                return instance;
            }

            await _store.LoadAsync(instance, ct);
            instance.Loaded = true;
        }
        finally
        {
            instance.Gate.Release();
        }

        Arm(instance);
        return instance;
    }

    // ---------------- the worker stream (GetWorkItems) and completions ----------------

    /// <summary>
    /// Serves one worker's <c>GetWorkItems</c> stream until it closes: the first stream also brings back the
    /// instances of the index (after a restart). Work a closed stream took but never completed goes to the next.
    /// </summary>
    public async Task StreamWorkItemsAsync(Func<WorkItem, Task> write, CancellationToken ct)
    {
        var worker = new object();
        _ = RecoverAsync();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
        try
        {
            await foreach (var work in _queue.Reader.ReadAllAsync(linked.Token))
            {
                if (!_inflight.TryGetValue(work.Token, out var current) || current != work)
                {
                    continue; // completed meanwhile
                }

                work.Worker = worker;
                try
                {
                    await write(work.Item);
                }
                catch
                {
                    work.Worker = null;
                    _queue.Writer.TryWrite(work);
                    throw;
                }
            }
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var work in _inflight.Values.Where(w => w.Worker == worker))
            {
                work.Worker = null;
                _queue.Writer.TryWrite(work);
            }
        }
    }

    /// <summary>A turn's result from the worker (<c>CompleteOrchestratorTask</c> / <c>CompleteWorkflowTask</c>).</summary>
    public void CompleteWorkflowTurn(WorkflowResponse response)
    {
        if (!_inflight.TryRemove(response.CompletionToken, out var work) || work.Turn is null)
        {
            throw new WorkflowStateException($"unknown instance ID/completion token: {response.InstanceId}");
        }

        work.Turn.TrySetResult(response);
    }

    /// <summary>An activity's result (<c>CompleteActivityTask</c>): a <c>TaskCompleted</c> or <c>TaskFailed</c> for the instance's inbox.</summary>
    public async Task CompleteActivityAsync(ActivityResponse response, CancellationToken ct)
    {
        if (!_inflight.TryRemove(response.CompletionToken, out var work) || work.Activity is null)
        {
            throw new WorkflowStateException($"unknown instance ID/task ID combination: {response.InstanceId}/{response.TaskId}");
        }

        var e = response.FailureDetails is { } failure
            ? NewEvent(x => x.TaskFailed = new TaskFailedEvent { TaskScheduledId = response.TaskId, FailureDetails = failure, TaskExecutionId = work.Activity.TaskExecutionId })
            : NewEvent(x => x.TaskCompleted = new TaskCompletedEvent { TaskScheduledId = response.TaskId, Result = response.Result, TaskExecutionId = work.Activity.TaskExecutionId });
        try
        {
            await AddEventAsync(response.InstanceId, e, ct);
        }
        catch (WorkflowNotFoundException)
        {
            // purged meanwhile: daprd's activity actor drops the result too
        }
    }

    private PendingWork Enqueue(WorkItem item, TaskCompletionSource<WorkflowResponse>? turn, ActivityRequest? activity)
    {
        var token = Guid.NewGuid().ToString("N");
        item.CompletionToken = token;
        var work = new PendingWork(token, item, turn, activity);
        _inflight[token] = work;
        _queue.Writer.TryWrite(work);
        return work;
    }

    // ---------------- turns ----------------

    private void Kick(InstanceRecord instance)
    {
        lock (instance.Sync)
        {
            if (instance.Running)
            {
                return;
            }

            instance.Running = true;
        }

        _ = Task.Run(() => RunAsync(instance));
    }

    private async Task RunAsync(InstanceRecord instance)
    {
        var ct = _stopping.Token;
        try
        {
            while (true)
            {
                List<HistoryEvent> batch;
                List<HistoryEvent> past;
                await instance.Gate.WaitAsync(ct);
                try
                {
                    batch = await TakeRunnableAsync(instance, ct);
                    if (batch.Count == 0)
                    {
                        lock (instance.Sync)
                        {
                            instance.Running = false;
                        }

                        return;
                    }

                    past = [.. instance.History];
                }
                finally
                {
                    instance.Gate.Release();
                }

                var turnStarted = NewEvent(e => e.WorkflowStarted = new WorkflowStartedEvent());
                var request = new WorkflowRequest
                {
                    InstanceId = instance.Id,
                    ExecutionId = instance.Started?.WorkflowInstance?.ExecutionId,
                };
                request.PastEvents.AddRange(past);
                request.NewEvents.Add(turnStarted);
                request.NewEvents.AddRange(batch);
                var turn = new TaskCompletionSource<WorkflowResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
                Enqueue(new WorkItem { WorkflowRequest = request }, turn, null);
                var response = await turn.Task.WaitAsync(ct);

                var effects = new List<Func<Task>>();
                await instance.Gate.WaitAsync(ct);
                try
                {
                    if (instance.Inbox.Count < batch.Count || !ReferenceEquals(instance.Inbox[0], batch[0]))
                    {
                        continue; // purged or restarted while the worker ran: drop this turn
                    }

                    instance.Inbox.RemoveRange(0, batch.Count);
                    instance.History.Add(turnStarted);
                    instance.History.AddRange(batch);
                    Apply(instance, response, effects);
                    await _store.SaveAsync(instance, ct);
                    instance.Signal();
                }
                finally
                {
                    instance.Gate.Release();
                }

                foreach (var effect in effects)
                {
                    try
                    {
                        await effect();
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        _logger.LogWarning(e, "Workflow {InstanceId}: a side effect of its turn failed", instance.Id);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Workflow {InstanceId}: its turn failed", instance.Id);
            lock (instance.Sync)
            {
                instance.Running = false;
            }
        }
    }

    /// <summary>
    /// The inbox events the next turn runs. Before the first turn, the start (or nothing before its scheduled time);
    /// after completion, none (the inbox is dropped, as durabletask-go drops events to finished instances); while
    /// suspended, only the first resume or terminate; otherwise everything up to and including a suspend.
    /// </summary>
    private async Task<List<HistoryEvent>> TakeRunnableAsync(InstanceRecord instance, CancellationToken ct)
    {
        if (instance.Inbox.Count == 0)
        {
            return [];
        }

        if (instance.IsTerminal)
        {
            instance.Inbox.Clear();
            await _store.SaveAsync(instance, ct);
            return [];
        }

        if (instance.History.Count == 0)
        {
            var start = instance.Inbox.FindIndex(e => e.ExecutionStarted is not null);
            if (start < 0)
            {
                return [];
            }

            if (instance.Inbox[start].ExecutionStarted.ScheduledStartTimestamp is { } at && at.ToDateTime() > DateTime.UtcNow)
            {
                ScheduleKick(instance, $"start|{instance.Generation}", at.ToDateTime());
                return [];
            }

            // the start goes first; anything raised before it follows in the same turn
            var ordered = new List<HistoryEvent> { instance.Inbox[start] };
            instance.Inbox.RemoveAt(start);
            instance.Inbox.Insert(0, ordered[0]);
            return [.. instance.Inbox];
        }

        if (instance.IsSuspended)
        {
            var i = instance.Inbox.FindIndex(e => e.ExecutionResumed is not null || e.ExecutionTerminated is not null);
            if (i < 0)
            {
                return [];
            }

            var e = instance.Inbox[i];
            instance.Inbox.RemoveAt(i);
            instance.Inbox.Insert(0, e);
            return [e];
        }

        var suspend = instance.Inbox.FindIndex(e => e.ExecutionSuspended is not null);
        return suspend < 0 ? [.. instance.Inbox] : [.. instance.Inbox.Take(suspend + 1)];
    }

    /// <summary>A turn's actions as history events and side effects (durabletask-go <c>runtimestate.ApplyActions</c>).</summary>
    private void Apply(InstanceRecord instance, WorkflowResponse response, List<Func<Task>> effects)
    {
        var now = Timestamp.FromDateTime(DateTime.UtcNow);
        var started = instance.Started!;
        var self = new WorkflowInstance { InstanceId = instance.Id, ExecutionId = started.WorkflowInstance?.ExecutionId };
        if (response.CustomStatus is not null)
        {
            instance.CustomStatus = new StringValue { Value = response.CustomStatus };
        }

        foreach (var action in response.Actions)
        {
            switch (action.WorkflowActionTypeCase)
            {
                case WorkflowAction.WorkflowActionTypeOneofCase.ScheduleTask:
                {
                    var task = action.ScheduleTask;
                    instance.History.Add(new HistoryEvent
                    {
                        EventId = action.Id,
                        Timestamp = now,
                        TaskScheduled = new TaskScheduledEvent { Name = task.Name, Version = task.Version, Input = task.Input, TaskExecutionId = task.TaskExecutionId },
                    });
                    var request = ActivityRequestFor(instance, action.Id, task.Name, task.Version, task.Input, task.TaskExecutionId);
                    effects.Add(() =>
                    {
                        DispatchActivity(request);
                        return Task.CompletedTask;
                    });
                    break;
                }

                case WorkflowAction.WorkflowActionTypeOneofCase.CreateTimer:
                {
                    var timer = action.CreateTimer;
                    var created = new TimerCreatedEvent { FireAt = timer.FireAt };
                    if (timer.HasName)
                    {
                        created.Name = timer.Name;
                    }

                    switch (timer.OriginCase)
                    {
                        case CreateTimerAction.OriginOneofCase.CreateTimer: created.CreateTimer = timer.CreateTimer; break;
                        case CreateTimerAction.OriginOneofCase.ExternalEvent: created.ExternalEvent = timer.ExternalEvent; break;
                        case CreateTimerAction.OriginOneofCase.ActivityRetry: created.ActivityRetry = timer.ActivityRetry; break;
                        case CreateTimerAction.OriginOneofCase.ChildWorkflowRetry: created.ChildWorkflowRetry = timer.ChildWorkflowRetry; break;
                    }

                    instance.History.Add(new HistoryEvent { EventId = action.Id, Timestamp = now, TimerCreated = created });
                    var id = action.Id;
                    effects.Add(() =>
                    {
                        ScheduleTimer(instance, id, timer.FireAt);
                        return Task.CompletedTask;
                    });
                    break;
                }

                case WorkflowAction.WorkflowActionTypeOneofCase.CreateChildWorkflow:
                {
                    var child = action.CreateChildWorkflow;
                    var childId = string.IsNullOrEmpty(child.InstanceId) ? Guid.NewGuid().ToString() : child.InstanceId;
                    instance.History.Add(new HistoryEvent
                    {
                        EventId = action.Id,
                        Timestamp = now,
                        ChildWorkflowInstanceCreated = new ChildWorkflowInstanceCreatedEvent { InstanceId = childId, Name = child.Name, Version = child.Version, Input = child.Input },
                    });
                    var parent = new ParentInstanceInfo { TaskScheduledId = action.Id, Name = started.Name, Version = started.Version, WorkflowInstance = self };
                    effects.Add(() => StartChildAsync(instance.Id, childId, child.Name, child.Input, parent));
                    break;
                }

                case WorkflowAction.WorkflowActionTypeOneofCase.SendEvent:
                {
                    var send = action.SendEvent;
                    instance.History.Add(new HistoryEvent
                    {
                        EventId = action.Id,
                        Timestamp = now,
                        EventSent = new EventSentEvent { InstanceId = send.Instance?.InstanceId ?? "", Name = send.Name, Input = send.Data },
                    });
                    effects.Add(() => IgnoreMissing(RaiseEventAsync(send.Instance?.InstanceId ?? "", send.Name, send.Data, _stopping.Token)));
                    break;
                }

                case WorkflowAction.WorkflowActionTypeOneofCase.TerminateWorkflow:
                {
                    var terminate = action.TerminateWorkflow;
                    effects.Add(() => IgnoreMissing(TerminateAsync(terminate.InstanceId, terminate.Reason, terminate.Recurse, _stopping.Token)));
                    break;
                }

                case WorkflowAction.WorkflowActionTypeOneofCase.CompleteWorkflow:
                    Complete(instance, action, now, effects);
                    return; // nothing after the completion counts
            }
        }
    }

    private void Complete(InstanceRecord instance, WorkflowAction action, Timestamp now, List<Func<Task>> effects)
    {
        var complete = action.CompleteWorkflow;
        var started = instance.Started!;
        if (complete.WorkflowStatus == OrchestrationStatus.ContinuedAsNew)
        {
            // a new generation with the new input; carried-over events (unprocessed external events) go first into its inbox
            var restart = new HistoryEvent
            {
                EventId = -1,
                Timestamp = now,
                ExecutionStarted = new ExecutionStartedEvent
                {
                    Name = started.Name,
                    Version = complete.NewVersion ?? started.Version,
                    Input = complete.Result,
                    WorkflowInstance = new WorkflowInstance { InstanceId = instance.Id, ExecutionId = Guid.NewGuid().ToString("N") },
                    ParentInstance = started.ParentInstance,
                },
            };
            var rest = instance.Inbox.ToList();
            instance.History = [];
            instance.HistoryReset = true;
            instance.Generation++;
            instance.Inbox = [restart, .. complete.CarryoverEvents, .. rest];
            effects.Add(() =>
            {
                Kick(instance);
                return Task.CompletedTask;
            });
            return;
        }

        instance.History.Add(new HistoryEvent
        {
            EventId = action.Id,
            Timestamp = now,
            ExecutionCompleted = new ExecutionCompletedEvent { WorkflowStatus = complete.WorkflowStatus, Result = complete.Result, FailureDetails = complete.FailureDetails },
        });

        // a terminate with recurse also terminates the children still running
        if (complete.WorkflowStatus == OrchestrationStatus.Terminated
            && instance.History.LastOrDefault(e => e.ExecutionTerminated is not null)?.ExecutionTerminated is { Recurse: true } terminated)
        {
            var finished = instance.History
                .Select(e => e.ChildWorkflowInstanceCompleted?.TaskScheduledId ?? e.ChildWorkflowInstanceFailed?.TaskScheduledId)
                .Where(i => i is not null).ToHashSet();
            foreach (var child in instance.History.Where(e => e.ChildWorkflowInstanceCreated is not null && !finished.Contains(e.EventId)))
            {
                var childId = child.ChildWorkflowInstanceCreated.InstanceId;
                effects.Add(() => IgnoreMissing(TerminateAsync(childId, terminated.Input, true, _stopping.Token)));
            }
        }

        if (started.ParentInstance?.WorkflowInstance?.InstanceId is { Length: > 0 } parentId)
        {
            var taskId = started.ParentInstance.TaskScheduledId;
            var e = complete.WorkflowStatus == OrchestrationStatus.Completed
                ? NewEvent(x => x.ChildWorkflowInstanceCompleted = new ChildWorkflowInstanceCompletedEvent { TaskScheduledId = taskId, Result = complete.Result })
                : NewEvent(x => x.ChildWorkflowInstanceFailed = new ChildWorkflowInstanceFailedEvent
                {
                    TaskScheduledId = taskId,
                    FailureDetails = complete.FailureDetails ?? new TaskFailureDetails
                    {
                        ErrorType = "Dapr.Workflow.WorkflowTerminated",
                        ErrorMessage = $"child workflow {instance.Id} ended {complete.WorkflowStatus}",
                    },
                });
            effects.Add(() => IgnoreMissing(AddEventAsync(parentId, e, _stopping.Token)));
        }
    }

    private static async Task IgnoreMissing(Task task)
    {
        try
        {
            await task;
        }
        catch (WorkflowNotFoundException)
        {
        }
    }

    private async Task StartChildAsync(string parentId, string childId, string name, string? input, ParentInstanceInfo parent)
    {
        var child = await GetAsync(childId, _stopping.Token);
        if (child.Exists && child.Started?.ParentInstance?.WorkflowInstance?.InstanceId == parentId)
        {
            return; // already started (a recovery running this again)
        }

        try
        {
            await StartAsync(name, childId, input, null, parent, _stopping.Token);
        }
        catch (WorkflowDuplicateException e)
        {
            await AddEventAsync(parentId, NewEvent(x => x.ChildWorkflowInstanceFailed = new ChildWorkflowInstanceFailedEvent
            {
                TaskScheduledId = parent.TaskScheduledId,
                FailureDetails = new TaskFailureDetails { ErrorType = "AlreadyExists", ErrorMessage = e.Message },
            }), _stopping.Token);
        }
    }

    private ActivityRequest ActivityRequestFor(InstanceRecord instance, int taskId, string name, string? version, string? input, string executionId) => new()
    {
        Name = name,
        Version = version,
        Input = input,
        WorkflowInstance = new WorkflowInstance { InstanceId = instance.Id, ExecutionId = instance.Started?.WorkflowInstance?.ExecutionId },
        TaskId = taskId,
        TaskExecutionId = executionId,
    };

    private void DispatchActivity(ActivityRequest request)
    {
        var key = $"{request.WorkflowInstance.InstanceId}|{request.TaskId}|{request.TaskExecutionId}";
        if (_inflight.Values.Any(w => w.Activity is { } a && $"{a.WorkflowInstance.InstanceId}|{a.TaskId}|{a.TaskExecutionId}" == key))
        {
            return;
        }

        Enqueue(new WorkItem { ActivityRequest = request }, null, request);
    }

    // ---------------- timers ----------------

    private void ScheduleTimer(InstanceRecord instance, int timerId, Timestamp fireAt)
    {
        var generation = instance.Generation;
        var key = $"{instance.Id}|{generation}|{timerId}";
        if (!_timers.TryAdd(key, 0))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await DelayUntil(fireAt.ToDateTime());
                if (instance.Generation != generation)
                {
                    return;
                }

                await AddEventAsync(instance.Id, NewEvent(e => e.TimerFired = new TimerFiredEvent { FireAt = fireAt, TimerId = timerId }), _stopping.Token);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
            }
            catch (WorkflowNotFoundException)
            {
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "Workflow {InstanceId}: timer {TimerId} could not fire", instance.Id, timerId);
            }
            finally
            {
                _timers.TryRemove(key, out _);
            }
        });
    }

    private void ScheduleKick(InstanceRecord instance, string name, DateTime at)
    {
        var key = $"{instance.Id}|{name}";
        if (!_timers.TryAdd(key, 0))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await DelayUntil(at);
                _timers.TryRemove(key, out _);
                Kick(instance);
            }
            catch (OperationCanceledException)
            {
                _timers.TryRemove(key, out _);
            }
        });
    }

    private async Task DelayUntil(DateTime at)
    {
        while (at - DateTime.UtcNow is { } left && left > TimeSpan.Zero)
        {
            await Task.Delay(left > TimeSpan.FromDays(1) ? TimeSpan.FromDays(1) : left, _stopping.Token);
        }
    }

    /// <summary>
    /// After a load: the timers in the history that have not fired get armed again, activities scheduled and not
    /// answered are sent again, children recorded but never started are started, and the inbox runs.
    /// </summary>
    private void Arm(InstanceRecord instance)
    {
        if (!instance.Exists || instance.IsTerminal)
        {
            return;
        }

        var all = instance.History.Concat(instance.Inbox).ToList();
        var fired = all.Where(e => e.TimerFired is not null).Select(e => e.TimerFired.TimerId).ToHashSet();
        var done = all.Select(e => e.TaskCompleted?.TaskScheduledId ?? e.TaskFailed?.TaskScheduledId).Where(i => i is not null).ToHashSet();
        var childDone = all.Select(e => e.ChildWorkflowInstanceCompleted?.TaskScheduledId ?? e.ChildWorkflowInstanceFailed?.TaskScheduledId).Where(i => i is not null).ToHashSet();
        foreach (var e in instance.History)
        {
            if (e.TimerCreated is not null && !fired.Contains(e.EventId))
            {
                ScheduleTimer(instance, e.EventId, e.TimerCreated.FireAt);
            }
            else if (e.TaskScheduled is { } task && !done.Contains(e.EventId))
            {
                DispatchActivity(ActivityRequestFor(instance, e.EventId, task.Name, task.Version, task.Input, task.TaskExecutionId));
            }
            else if (e.ChildWorkflowInstanceCreated is { } child && !childDone.Contains(e.EventId))
            {
                var started = instance.Started!;
                var parent = new ParentInstanceInfo
                {
                    TaskScheduledId = e.EventId,
                    Name = started.Name,
                    Version = started.Version,
                    WorkflowInstance = new WorkflowInstance { InstanceId = instance.Id, ExecutionId = started.WorkflowInstance?.ExecutionId },
                };
                var parentId = instance.Id;
                _ = Task.Run(() => StartChildAsync(parentId, child.InstanceId, child.Name, child.Input, parent));
            }
        }

        if (instance.Inbox.Count > 0)
        {
            Kick(instance);
        }
    }

    /// <summary>Loads every instance of the index once, which arms its timers and runs its inbox (<see cref="Arm"/>).</summary>
    private async Task RecoverAsync()
    {
        if (_recovered)
        {
            return;
        }

        await _recovery.WaitAsync();
        try
        {
            if (_recovered)
            {
                return;
            }

            foreach (var id in await _store.ListAsync(_stopping.Token))
            {
                await GetAsync(id, _stopping.Token);
            }

            _recovered = true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning(e, "Workflows: could not load the instances of the index");
        }
        finally
        {
            _recovery.Release();
        }
    }

    public ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _queue.Writer.TryComplete();
        foreach (var work in _inflight.Values)
        {
            work.Turn?.TrySetCanceled();
        }

        return ValueTask.CompletedTask;
    }

    private sealed class PendingWork(string token, WorkItem item, TaskCompletionSource<WorkflowResponse>? turn, ActivityRequest? activity)
    {
        public string Token { get; } = token;

        public WorkItem Item { get; } = item;

        public TaskCompletionSource<WorkflowResponse>? Turn { get; } = turn;

        public ActivityRequest? Activity { get; } = activity;

        /// <summary>The stream it was written to, while the worker has it.</summary>
        public object? Worker { get; set; }
    }
}

/// <summary>durabletask-go's <c>api.ErrDuplicateInstance</c> / daprd's <c>AlreadyExists</c> for an active id.</summary>
internal sealed class WorkflowDuplicateException(string id) : Exception($"an active workflow with ID '{id}' already exists");
