using System.Globalization;
using System.Text.Json;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Platform.Sidecar.State;

namespace Platform.Sidecar.Workflows;

/// <summary>
/// One workflow instance's durable state, as daprd's workflow actor keeps it (dapr/dapr
/// <c>pkg/runtime/wfengine/state/state.go</c>): the history (append-only), the inbox of events not yet run, the
/// custom status and the generation.
/// </summary>
internal sealed class InstanceRecord(string id)
{
    public string Id { get; } = id;

    /// <summary>Serialises changes to this instance (inbox appends, a turn's result, purge).</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    public List<HistoryEvent> History { get; set; } = [];

    public List<HistoryEvent> Inbox { get; set; } = [];

    public StringValue? CustomStatus { get; set; }

    public ulong Generation { get; set; }

    /// <summary>How many history / inbox entries the store holds (the keys past these are new or to delete).</summary>
    public int PersistedHistory { get; set; }

    public int PersistedInbox { get; set; }

    /// <summary>Set when the history was replaced (continue-as-new, a restart of a finished id): rewrite every key.</summary>
    public bool HistoryReset { get; set; }

    /// <summary>True once the record was read from the store.</summary>
    public bool Loaded
    {
        get => Volatile.Read(ref _loaded);
        set => Volatile.Write(ref _loaded, value);
    }

    private bool _loaded;

    /// <summary>True once a turn loop runs for this instance (guarded by <see cref="Sync"/>).</summary>
    public bool Running { get; set; }

    public object Sync { get; } = new();

    /// <summary>Completed and replaced on every change, so waiters (WaitForInstance…) wake up.</summary>
    public TaskCompletionSource Changed { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ExecutionStartedEvent? Started =>
        History.FirstOrDefault(e => e.ExecutionStarted is not null)?.ExecutionStarted ?? Inbox.FirstOrDefault(e => e.ExecutionStarted is not null)?.ExecutionStarted;

    public HistoryEvent? StartedEvent =>
        History.FirstOrDefault(e => e.ExecutionStarted is not null) ?? Inbox.FirstOrDefault(e => e.ExecutionStarted is not null);

    public ExecutionCompletedEvent? Completed => History.LastOrDefault(e => e.ExecutionCompleted is not null)?.ExecutionCompleted;

    public bool Exists => StartedEvent is not null;

    public bool IsTerminal => Completed is not null;

    /// <summary>Suspended when the last of the suspend/resume events in the history is a suspend.</summary>
    public bool IsSuspended =>
        History.LastOrDefault(e => e.ExecutionSuspended is not null || e.ExecutionResumed is not null)?.ExecutionSuspended is not null;

    /// <summary>The runtime status durabletask-go derives from the history (<c>backend/runtimestate</c>).</summary>
    public OrchestrationStatus Status => Completed?.WorkflowStatus
        ?? (History.Count == 0 ? OrchestrationStatus.Pending : IsSuspended ? OrchestrationStatus.Suspended : OrchestrationStatus.Running);

    public void Signal()
    {
        var old = Changed;
        Changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }
}

/// <summary>
/// Workflow state in the actor state store under daprd's layout: the workflow actor type
/// <c>dapr.internal.{namespace}.{appId}.workflow</c>, actor id = instance id, and per instance the keys
/// <c>metadata</c> (a protobuf <c>BackendWorkflowStateMetadata</c>: inbox and history lengths, generation),
/// <c>inbox-NNNNNN</c> and <c>history-NNNNNN</c> (protobuf <c>HistoryEvent</c>s) and <c>customStatus</c> (a protobuf
/// <c>StringValue</c>), each as the actor state key <c>{appId}||{actorType}||{instanceId}||{key}</c>
/// (dapr/dapr <c>pkg/runtime/wfengine/state/state.go</c>, <c>getMultiEntryKeyName</c>). One more key, not in
/// daprd, lists this app's instance ids (<see cref="IndexKey"/>): daprd finds its workflows again through their
/// reminders in the Scheduler, which this sidecar does not have.
/// </summary>
internal sealed class WorkflowStore(Components components, string appId, string ns)
{
    public string WorkflowActorType { get; } = $"dapr.internal.{ns}.{appId}.workflow";

    public string ActivityActorType { get; } = $"dapr.internal.{ns}.{appId}.activity";

    /// <summary>The instance ids of this app, a JSON array of strings (written with first-write ETags).</summary>
    public string IndexKey => $"{appId}||{WorkflowActorType}||instances";

    public string Key(string instanceId, string key) => $"{appId}||{WorkflowActorType}||{instanceId}||{key}";

    private static string Entry(string prefix, int i) => $"{prefix}-{i.ToString("D6", CultureInfo.InvariantCulture)}";

    private IStateStore Store()
    {
        var c = components.All.FirstOrDefault(c => c.Category == "state" && string.Equals(c.Get("actorStateStore"), "true", StringComparison.OrdinalIgnoreCase))
            ?? throw WorkflowErrors.NoStateStore();
        return components.StateStore(c.Name).Store;
    }

    /// <summary>Loads an instance; one with no metadata key comes back empty (<see cref="InstanceRecord.Exists"/> false).</summary>
    public async Task LoadAsync(InstanceRecord instance, CancellationToken ct)
    {
        var store = Store();
        var meta = await store.GetAsync(Key(instance.Id, "metadata"), ct);
        if (meta is null)
        {
            return;
        }

        var m = BackendWorkflowStateMetadata.Parser.ParseFrom(meta.Data.Span);
        instance.Inbox = await ReadListAsync(store, instance.Id, "inbox", (int)m.InboxLength, ct);
        instance.History = await ReadListAsync(store, instance.Id, "history", (int)m.HistoryLength, ct);
        instance.Generation = m.Generation;
        instance.PersistedInbox = instance.Inbox.Count;
        instance.PersistedHistory = instance.History.Count;
        var status = await store.GetAsync(Key(instance.Id, "customStatus"), ct);
        instance.CustomStatus = status is null || status.Data.Length == 0 ? null : StringValue.Parser.ParseFrom(status.Data.Span);
    }

    private async Task<List<HistoryEvent>> ReadListAsync(IStateStore store, string id, string prefix, int count, CancellationToken ct)
    {
        var list = new List<HistoryEvent>(count);
        for (var i = 0; i < count; i++)
        {
            var item = await store.GetAsync(Key(id, Entry(prefix, i)), ct)
                ?? throw new InvalidOperationException($"workflow {id}: state key {Entry(prefix, i)} is missing");
            list.Add(HistoryEvent.Parser.ParseFrom(item.Data.Span));
        }

        return list;
    }

    /// <summary>Writes what changed since the last save, in one transaction (daprd's <c>GetSaveRequest</c>).</summary>
    public async Task SaveAsync(InstanceRecord instance, CancellationToken ct)
    {
        var ops = new List<StateOperation>();
        var firstHistory = instance.HistoryReset ? 0 : instance.PersistedHistory;
        for (var i = firstHistory; i < instance.History.Count; i++)
        {
            ops.Add(new Upsert(Key(instance.Id, Entry("history", i)), instance.History[i].ToByteArray(), null, Concurrency.LastWrite, null));
        }

        for (var i = instance.History.Count; i < instance.PersistedHistory; i++)
        {
            ops.Add(new Delete(Key(instance.Id, Entry("history", i)), null, Concurrency.LastWrite));
        }

        for (var i = 0; i < instance.Inbox.Count; i++)
        {
            ops.Add(new Upsert(Key(instance.Id, Entry("inbox", i)), instance.Inbox[i].ToByteArray(), null, Concurrency.LastWrite, null));
        }

        for (var i = instance.Inbox.Count; i < instance.PersistedInbox; i++)
        {
            ops.Add(new Delete(Key(instance.Id, Entry("inbox", i)), null, Concurrency.LastWrite));
        }

        ops.Add(new Upsert(Key(instance.Id, "customStatus"), (instance.CustomStatus ?? new StringValue()).ToByteArray(), null, Concurrency.LastWrite, null));
        var meta = new BackendWorkflowStateMetadata
        {
            InboxLength = (ulong)instance.Inbox.Count,
            HistoryLength = (ulong)instance.History.Count,
            Generation = instance.Generation,
        };
        ops.Add(new Upsert(Key(instance.Id, "metadata"), meta.ToByteArray(), null, Concurrency.LastWrite, null));
        await Store().ApplyAsync(ops, ct);
        instance.PersistedHistory = instance.History.Count;
        instance.PersistedInbox = instance.Inbox.Count;
        instance.HistoryReset = false;
    }

    /// <summary>Removes every key of the instance (purge).</summary>
    public async Task DeleteAsync(InstanceRecord instance, CancellationToken ct)
    {
        var ops = new List<StateOperation>();
        for (var i = 0; i < Math.Max(instance.PersistedHistory, instance.History.Count); i++)
        {
            ops.Add(new Delete(Key(instance.Id, Entry("history", i)), null, Concurrency.LastWrite));
        }

        for (var i = 0; i < Math.Max(instance.PersistedInbox, instance.Inbox.Count); i++)
        {
            ops.Add(new Delete(Key(instance.Id, Entry("inbox", i)), null, Concurrency.LastWrite));
        }

        ops.Add(new Delete(Key(instance.Id, "customStatus"), null, Concurrency.LastWrite));
        ops.Add(new Delete(Key(instance.Id, "metadata"), null, Concurrency.LastWrite));
        await Store().ApplyAsync(ops, ct);
        instance.History = [];
        instance.Inbox = [];
        instance.CustomStatus = null;
        instance.PersistedHistory = 0;
        instance.PersistedInbox = 0;
    }

    /// <summary>The instance ids in the index.</summary>
    public async Task<List<string>> ListAsync(CancellationToken ct) => (await ReadIndexAsync(Store(), ct)).Ids;

    /// <summary>Adds or removes an id in the index, retrying on a concurrent writer (first-write ETag).</summary>
    public async Task UpdateIndexAsync(string id, bool add, CancellationToken ct)
    {
        var store = Store();
        for (var attempt = 0; ; attempt++)
        {
            var (ids, etag) = await ReadIndexAsync(store, ct);
            if (ids.Contains(id) == add)
            {
                return;
            }

            if (add)
            {
                ids.Add(id);
            }
            else
            {
                ids.Remove(id);
            }

            try
            {
                await store.ApplyAsync([new Upsert(IndexKey, JsonSerializer.SerializeToUtf8Bytes(ids), etag, Concurrency.FirstWrite, null)], ct);
                return;
            }
            catch (ETagMismatchException) when (attempt < 50)
            {
            }
        }
    }

    private async Task<(List<string> Ids, string? ETag)> ReadIndexAsync(IStateStore store, CancellationToken ct)
    {
        var item = await store.GetAsync(IndexKey, ct);
        return item is null ? ([], null) : (JsonSerializer.Deserialize<List<string>>(item.Data.Span) ?? [], item.ETag);
    }
}
