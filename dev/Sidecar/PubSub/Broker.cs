namespace Platform.Sidecar.PubSub;

/// <summary>A message as the broker holds it: the bytes published (a CloudEvent, or a raw payload) and the publish metadata.</summary>
public sealed record BrokerMessage(string Id, string Topic, ReadOnlyMemory<byte> Data, IReadOnlyDictionary<string, string> Metadata);

/// <summary>What a subscriber tells the broker after handling a message.</summary>
public enum Ack
{
    /// <summary>Done (handled, dropped or dead-lettered): never deliver it again.</summary>
    Done,

    /// <summary>Deliver it again later, possibly to another replica of the same consumer group.</summary>
    Redeliver,
}

public delegate Task<Ack> MessageHandler(BrokerMessage message, CancellationToken ct);

/// <summary>
/// A pub/sub component. Subscriptions join a consumer group: every group receives every message, and within
/// a group each message goes to one subscriber (Dapr uses the app-id as the group, so the replicas of one app
/// compete and different apps each get everything).
/// </summary>
public interface IBroker : IAsyncDisposable
{
    Task PublishAsync(string topic, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, CancellationToken ct);

    /// <summary>Starts delivering <paramref name="topic"/> to <paramref name="handler"/> until the result is disposed.</summary>
    Task<IAsyncDisposable> SubscribeAsync(string topic, string consumerGroup, MessageHandler handler, CancellationToken ct);
}
