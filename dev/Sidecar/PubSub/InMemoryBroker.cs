using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Platform.Sidecar.PubSub;

/// <summary>
/// <c>pubsub.in-memory</c>. In daprd each sidecar has its own bus, which makes the component useless across
/// services. Here every sidecar of one process (the dev host, a test host) that names the same component
/// shares one bus, with consumer groups as Redis has them, so a local run behaves like the real broker
/// would: each app gets every event, replicas of one app compete, and a message asked to be redelivered
/// comes back after a backoff (to any replica of the group). Nothing survives the process. The bus is shared
/// by the sidecars that use the same name registry folder: one dev host or one test is one neighbourhood.
/// </summary>
public sealed class InMemoryBroker(ILogger logger) : IBroker
{
    private static readonly ConcurrentDictionary<string, InMemoryBroker> Shared = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Group>> _topics = new(StringComparer.Ordinal);
    private long _sequence;

    /// <summary>The bus named <paramref name="name"/> among the sidecars of this process registered in <paramref name="scope"/>.</summary>
    public static InMemoryBroker ForName(string scope, string name, ILogger logger) => Shared.GetOrAdd($"{scope}|{name}", _ => new InMemoryBroker(logger));

    /// <summary>How many workers each subscriber runs, as pubsub.redis's default <c>concurrency</c>.</summary>
    public const int Concurrency = 10;

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private sealed class Group
    {
        public Channel<(BrokerMessage Message, int Attempt)> Queue { get; } = Channel.CreateUnbounded<(BrokerMessage, int)>();
    }

    public Task PublishAsync(string topic, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, CancellationToken ct)
    {
        var id = $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}-{Interlocked.Increment(ref _sequence)}";
        var message = new BrokerMessage(id, topic, data.ToArray(), metadata);
        foreach (var group in Groups(topic).Values)
        {
            group.Queue.Writer.TryWrite((message, 0));
        }

        return Task.CompletedTask;
    }

    public Task<IAsyncDisposable> SubscribeAsync(string topic, string consumerGroup, MessageHandler handler, CancellationToken ct)
    {
        var group = Groups(topic).GetOrAdd(consumerGroup, _ => new Group());
        var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(() => WorkAsync(group, handler, stop.Token), CancellationToken.None)).ToArray();
        return Task.FromResult<IAsyncDisposable>(new Subscription(stop, workers));
    }

    /// <summary>Forgets a consumer group and what is queued for it (a group that only one sidecar start ever reads).</summary>
    public void RemoveGroup(string topic, string consumerGroup) => Groups(topic).TryRemove(consumerGroup, out _);

    private ConcurrentDictionary<string, Group> Groups(string topic) =>
        _topics.GetOrAdd(topic, _ => new ConcurrentDictionary<string, Group>(StringComparer.Ordinal));

    private async Task WorkAsync(Group group, MessageHandler handler, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            (BrokerMessage Message, int Attempt) item;
            try
            {
                item = await group.Queue.Reader.ReadAsync(ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Ack ack;
            try
            {
                ack = await handler(item.Message, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || ct.IsCancellationRequested)
            {
                logger.LogWarning(e, "Delivery of {MessageId} on {Topic} failed", item.Message.Id, item.Message.Topic);
                ack = Ack.Redeliver;
            }

            if (ack == Ack.Redeliver)
            {
                // A stopped subscriber hands its message back at once; a failed delivery waits, doubling up to 5 s.
                var attempt = item.Attempt + 1;
                var delay = ct.IsCancellationRequested ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, 100 * Math.Pow(2, attempt - 1)));
                _ = RequeueAsync(group, (item.Message, attempt), delay);
            }
        }
    }

    private static async Task RequeueAsync(Group group, (BrokerMessage, int) item, TimeSpan delay)
    {
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay);
        }

        group.Queue.Writer.TryWrite(item);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class Subscription(CancellationTokenSource stop, Task[] workers) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await Task.WhenAll(workers);
            stop.Dispose();
        }
    }
}
