using System.Collections.Concurrent;
using Dapr.Actors;
using Dapr.Actors.Runtime;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>The actor interface the tests call through <c>ActorProxy.Create&lt;ICounter&gt;</c> (remoting) or by method name.</summary>
public interface ICounter : IActor
{
    /// <summary>Read-modify-write of the count, with a yield in the middle so calls that overlap would lose updates.</summary>
    Task<int> Increment();

    Task<int> Get();

    /// <summary>The name of the app replica hosting this actor.</summary>
    Task<string> WhereAmI();

    Task StartTimer(int periodMs);

    Task StopTimer();

    Task<int> TimerTicks();

    /// <summary>Registers reminder <paramref name="name"/> with data "hello-{name}"; <paramref name="repetitions"/> 0 means unlimited.</summary>
    Task StartReminder(string name, int dueMs, int periodMs, int repetitions);

    Task<int> RemindersReceived();

    Task Fail();
}

/// <summary>What happened inside one test app: which replica it is and which actor callbacks it saw.</summary>
public sealed class HostProbe(string name)
{
    public string Name { get; } = name;

    public ConcurrentQueue<string> Activated { get; } = new();

    public ConcurrentQueue<string> Deactivated { get; } = new();

    public ConcurrentQueue<string> TimerTicks { get; } = new();

    public ConcurrentQueue<ReminderCall> Reminders { get; } = new();
}

public sealed record ReminderCall(string ActorId, string Name, string Data, TimeSpan DueTime, TimeSpan Period);

/// <summary>A counter actor with state, a timer and reminders; it reports what it does to the app's <see cref="HostProbe"/>.</summary>
public sealed class CounterActor(ActorHost host, HostProbe probe) : Actor(host), ICounter, IRemindable
{
    public const string TypeName = nameof(CounterActor);

    protected override Task OnActivateAsync()
    {
        probe.Activated.Enqueue(Id.GetId());
        return Task.CompletedTask;
    }

    protected override Task OnDeactivateAsync()
    {
        probe.Deactivated.Enqueue(Id.GetId());
        return Task.CompletedTask;
    }

    public async Task<int> Increment()
    {
        var current = await StateManager.TryGetStateAsync<int>("count");
        await Task.Yield();
        var next = (current.HasValue ? current.Value : 0) + 1;
        await StateManager.SetStateAsync("count", next);
        return next;
    }

    public async Task<int> Get()
    {
        var current = await StateManager.TryGetStateAsync<int>("count");
        return current.HasValue ? current.Value : 0;
    }

    public Task<string> WhereAmI() => Task.FromResult(probe.Name);

    public Task StartTimer(int periodMs) =>
        RegisterTimerAsync("tick", nameof(OnTick), Encoding.UTF8.GetBytes("tick-data"), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(periodMs));

    public Task StopTimer() => UnregisterTimerAsync("tick");

    public async Task OnTick(byte[] data)
    {
        probe.TimerTicks.Enqueue($"{Id.GetId()}:{Encoding.UTF8.GetString(data)}");
        var ticks = await StateManager.TryGetStateAsync<int>("ticks");
        await StateManager.SetStateAsync("ticks", (ticks.HasValue ? ticks.Value : 0) + 1);
    }

    public async Task<int> TimerTicks()
    {
        var ticks = await StateManager.TryGetStateAsync<int>("ticks");
        return ticks.HasValue ? ticks.Value : 0;
    }

    public Task StartReminder(string name, int dueMs, int periodMs, int repetitions)
    {
        var data = Encoding.UTF8.GetBytes($"hello-{name}");
        var due = TimeSpan.FromMilliseconds(dueMs);
        var period = periodMs < 0 ? TimeSpan.FromMilliseconds(-1) : TimeSpan.FromMilliseconds(periodMs);
        return repetitions > 0
            ? RegisterReminderAsync(name, data, due, period, repetitions)
            : RegisterReminderAsync(name, data, due, period);
    }

    public async Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        probe.Reminders.Enqueue(new ReminderCall(Id.GetId(), reminderName, Encoding.UTF8.GetString(state), dueTime, period));
        var received = await StateManager.TryGetStateAsync<int>("reminders");
        await StateManager.SetStateAsync("reminders", (received.HasValue ? received.Value : 0) + 1);
    }

    public async Task<int> RemindersReceived()
    {
        var received = await StateManager.TryGetStateAsync<int>("reminders");
        return received.HasValue ? received.Value : 0;
    }

    public Task Fail() => throw new InvalidOperationException("the counter refuses");
}
