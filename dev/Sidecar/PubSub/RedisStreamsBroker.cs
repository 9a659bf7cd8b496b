using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Resources;
using StackExchange.Redis;

namespace Platform.Sidecar.PubSub;

/// <summary>
/// <c>pubsub.redis</c> on Redis Streams, laid out as components-contrib lays it out (common/component/redis):
/// the stream key is the topic; each entry has field <c>data</c> (the CloudEvent or raw bytes) and field
/// <c>metadata</c> (the publish metadata as JSON); a subscriber creates consumer group <c>consumerID</c> from id 0
/// and reads with consumer name <c>consumerID</c> too, so all replicas of an app compete for messages and
/// different apps each receive all of them. Unacknowledged entries idle longer than <c>processingTimeout</c>
/// are claimed again by a pass that starts every <c>redeliverInterval</c> and, as contrib's reclaim loop, goes on
/// until none is left, at the speed the workers take them; so a replica that dies mid-message loses nothing, and a
/// consumer back from an outage gets its backlog as fast as it takes it.
/// </summary>
/// <remarks>
/// One deliberate difference: components-contrib ≥ 1.17 acknowledges an entry even when delivery failed
/// (dapr/components-contrib#4208). Here a failed delivery (RETRY, app unreachable) leaves the entry pending,
/// so it is redelivered after <c>processingTimeout</c>; with a dead-letter topic it is dead-lettered instead.
/// </remarks>
public sealed class RedisStreamsBroker : IBroker
{
    private readonly ComponentResource _component;
    private readonly ConnectionMultiplexer _redis;
    private readonly int _database;
    private readonly ILogger _logger;
    private readonly int? _maxLen;
    private readonly TimeSpan _processingTimeout;
    private readonly TimeSpan _redeliverInterval;
    private readonly int _queueDepth;
    private readonly int _concurrency;

    private RedisStreamsBroker(ComponentResource component, ConnectionMultiplexer redis, int database, ILogger logger)
    {
        _component = component;
        _redis = redis;
        _database = database;
        _logger = logger;
        _maxLen = Int(component, "maxLenApprox", null);
        _queueDepth = Int(component, "queueDepth", 100)!.Value;
        _concurrency = Int(component, "concurrency", 10)!.Value;
        _processingTimeout = Duration(component, "processingTimeout", TimeSpan.FromSeconds(60));
        _redeliverInterval = Duration(component, "redeliverInterval", TimeSpan.FromSeconds(15));
    }

    public static async Task<RedisStreamsBroker> CreateAsync(ComponentResource component, string appId, ILogger logger)
    {
        var (redis, db) = await RedisConnections.ConnectAsync(component, $"{appId}-pubsub");
        return new RedisStreamsBroker(component, redis, db, logger);
    }

    public async Task PublishAsync(string topic, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, CancellationToken ct)
    {
        var fields = new NameValueEntry[]
        {
            new("data", data),
            new("metadata", metadata.Count == 0 ? "{}" : JsonSerializer.Serialize(metadata)),
        };
        await _redis.GetDatabase(_database).StreamAddAsync(topic, fields, maxLength: _maxLen, useApproximateMaxLength: _maxLen is not null);
    }

    public async Task<IAsyncDisposable> SubscribeAsync(string topic, string consumerGroup, MessageHandler handler, CancellationToken ct)
    {
        await EnsureGroupAsync(topic, consumerGroup);

        // XREADGROUP ... BLOCK holds its connection, so the blocking reads get a connection of their own.
        var (reader, _) = await RedisConnections.ConnectAsync(_component, $"{consumerGroup}-reader");
        var subscription = new Subscription(this, topic, consumerGroup, handler, reader);
        subscription.Start();
        return subscription;
    }

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    /// <summary>Creates the consumer group from the start of the stream unless it exists (XGROUP CREATE .. 0 MKSTREAM).</summary>
    private async Task EnsureGroupAsync(string topic, string group)
    {
        try
        {
            await _redis.GetDatabase(_database).StreamCreateConsumerGroupAsync(topic, group, "0", createStream: true);
        }
        catch (RedisServerException e) when (e.Message.Contains("BUSYGROUP", StringComparison.Ordinal))
        {
            // The group exists: another replica (or an earlier run) created it.
        }
    }

    /// <summary>The metadata of an entry published without any (shared: nobody writes to it).</summary>
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    private sealed class Subscription(RedisStreamsBroker owner, string topic, string group, MessageHandler handler, ConnectionMultiplexer reader) : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private const int MaxAckBatch = 512;

        // A worker waiting for an entry takes it on the reading thread (synchronous continuations) and runs the
        // delivery up to its first wait (the request to the app on its way), instead of the entry waiting for a
        // thread-pool thread to wake: one thread hop less per entry. The read loop goes on as soon as the delivery
        // waits for the app's answer.
        private readonly Channel<BrokerMessage> _queue = Channel.CreateBounded<BrokerMessage>(
            new BoundedChannelOptions(owner._queueDepth) { AllowSynchronousContinuations = true });
        private readonly ConcurrentDictionary<string, byte> _inFlight = new(StringComparer.Ordinal);
        private readonly List<Task> _tasks = [];

        // Entries the app has answered SUCCESS for (or that were dropped / dead-lettered), waiting for XACK. One
        // loop acknowledges whatever has gathered in a single XACK, so a busy subscription sends one command per
        // batch instead of one round trip per entry, and the workers go on to the next entry meanwhile.
        private readonly Channel<string> _acks = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        private Task _ackLoop = Task.CompletedTask;

        // Deliveries done (answered, dropped or dead-lettered) and failed, for the reclaim pass's brake.
        private long _succeeded;
        private long _failed;

        private IDatabase Db => owner._redis.GetDatabase(owner._database);

        public void Start()
        {
            _tasks.Add(Task.Run(ReadLoopAsync));
            if (owner._redeliverInterval > TimeSpan.Zero && owner._processingTimeout > TimeSpan.Zero)
            {
                _tasks.Add(Task.Run(ReclaimLoopAsync));
            }

            for (var i = 0; i < owner._concurrency; i++)
            {
                _tasks.Add(Task.Run(WorkAsync));
            }

            _ackLoop = Task.Run(AckLoopAsync);
        }

        private async Task ReadLoopAsync()
        {
            var ct = _stop.Token;
            var db = reader.GetDatabase(owner._database);
            var failures = 0;
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    var result = await db.ExecuteAsync("XREADGROUP", "GROUP", group, group, "COUNT", owner._queueDepth, "BLOCK", 1000, "STREAMS", topic, ">");
                    failures = 0;
                    if (result.IsNull)
                    {
                        continue;
                    }

                    foreach (var stream in (RedisResult[])result!)
                    {
                        foreach (var entry in (RedisResult[])((RedisResult[])stream!)[1]!)
                        {
                            await EnqueueAsync(Parse((RedisResult[])entry!), ct);
                        }
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (RedisServerException e) when (e.Message.Contains("NOGROUP", StringComparison.Ordinal) && !ct.IsCancellationRequested)
                {
                    // Redis came back without our group (restarted without persistence, or the stream was deleted):
                    // create it again, from the start of whatever the stream now holds.
                    owner._logger.LogWarning("Consumer group {Group} of {Topic} is gone; creating it again", group, topic);
                    await TryAsync(() => owner.EnsureGroupAsync(topic, group));
                }
                catch (Exception e) when (e is RedisException or ObjectDisposedException && !ct.IsCancellationRequested)
                {
                    // Redis restarted or unreachable: keep trying; what was not acknowledged is still pending there.
                    if (failures++ % 20 == 0)
                    {
                        owner._logger.LogWarning("Reading {Topic} for {Group} failed, retrying: {Error}", topic, group, e.Message);
                    }

                    await Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * failures)), ct);
                }
            }
        }

        /// <summary>
        /// Redelivers entries pending longer than <c>processingTimeout</c>: a pass right away (as contrib's
        /// reclaimPendingMessagesLoop makes an initial reclaim call), then one every <c>redeliverInterval</c>.
        /// </summary>
        private async Task ReclaimLoopAsync()
        {
            var ct = _stop.Token;
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await ReclaimPendingAsync(ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (RedisException e)
                {
                    owner._logger.LogWarning("Reclaiming pending messages of {Topic} failed: {Error}", topic, e.Message);
                }

                await Delay(owner._redeliverInterval, ct);
            }
        }

        /// <summary>
        /// One reclaim pass, as contrib's reclaimPendingMessages (pubsub/redis/redis.go): XPENDING pages of
        /// <c>queueDepth</c> entries, those idle at least <c>processingTimeout</c> taken with XCLAIM (same min-idle, so
        /// an entry another replica claimed meanwhile is left to it) and queued for the workers; contrib loops until
        /// nothing is left to claim, and so does this pass, walking the whole pending list once. The queue is bounded
        /// (<c>queueDepth</c>) and drained by <c>concurrency</c> workers, so a backlog goes at the consumer's speed,
        /// not a page per interval. One brake: while deliveries fail and none succeeds (the app is still away), the pass
        /// stops after a page's worth of failures and the next interval tries again, instead of cycling the whole
        /// backlog through an app that refuses it.
        /// </summary>
        private async Task ReclaimPendingAsync(CancellationToken ct)
        {
            var idleMs = (long)owner._processingTimeout.TotalMilliseconds;
            var succeededBefore = Interlocked.Read(ref _succeeded);
            var failedBefore = Interlocked.Read(ref _failed);
            RedisValue from = "-";
            while (!ct.IsCancellationRequested)
            {
                var page = await Db.StreamPendingMessagesAsync(topic, group, owner._queueDepth, RedisValue.Null, minId: from);
                if (page.Length == 0)
                {
                    return;
                }

                // Entries this sidecar still holds (queued, being delivered, being acknowledged) are left alone.
                var stale = page.Where(p => p.IdleTimeInMilliseconds >= idleMs && !_inFlight.ContainsKey(p.MessageId!)).Select(p => p.MessageId).ToArray();
                if (stale.Length > 0)
                {
                    await ClaimAsync(stale, idleMs, ct);
                }

                if (page.Length < owner._queueDepth)
                {
                    return; // the end of the pending list
                }

                if (Interlocked.Read(ref _succeeded) == succeededBefore && Interlocked.Read(ref _failed) - failedBefore >= owner._queueDepth)
                {
                    return; // nothing got through since the pass began: the app is still away
                }

                from = After((string)page[^1].MessageId!);
            }
        }

        private async Task ClaimAsync(RedisValue[] ids, long idleMs, CancellationToken ct)
        {
            var claimed = await Db.StreamClaimAsync(topic, group, group, idleMs, ids);
            var present = new HashSet<string>(claimed.Where(c => !c.IsNull).Select(c => (string)c.Id!), StringComparer.Ordinal);
            var missing = ids.Where(id => !present.Contains((string)id!)).ToArray();
            if (missing.Length > 0)
            {
                // Not claimed: either trimmed from the stream (XCLAIM of Redis < 7 leaves those pending, so they are
                // acknowledged here, as contrib's removeMessagesThatNoLongerExistFromPending does), or taken by another
                // replica since XPENDING (left to it).
                var gone = await Task.WhenAll(missing.Select(async id => (id, (await Db.StreamRangeAsync(topic, id, id, 1)).Length == 0)));
                var trimmed = gone.Where(g => g.Item2).Select(g => g.id).ToArray();
                if (trimmed.Length > 0)
                {
                    await Db.StreamAcknowledgeAsync(topic, group, trimmed);
                }
            }

            foreach (var entry in claimed.Where(c => !c.IsNull))
            {
                await EnqueueAsync(ToMessage(entry.Id!, entry.Values.Select(v => (v.Name, v.Value))), ct);
            }
        }

        /// <summary>The smallest stream id after <paramref name="id"/> ("ms-seq"), to page XPENDING (whose range is inclusive).</summary>
        private static RedisValue After(string id)
        {
            var dash = id.IndexOf('-', StringComparison.Ordinal);
            var ms = ulong.Parse(id.AsSpan(0, dash), CultureInfo.InvariantCulture);
            var seq = ulong.Parse(id.AsSpan(dash + 1), CultureInfo.InvariantCulture);
            return seq == ulong.MaxValue
                ? $"{(ms + 1).ToString(CultureInfo.InvariantCulture)}-0"
                : $"{ms.ToString(CultureInfo.InvariantCulture)}-{(seq + 1).ToString(CultureInfo.InvariantCulture)}";
        }

        private async Task EnqueueAsync(BrokerMessage message, CancellationToken ct)
        {
            if (_inFlight.TryAdd(message.Id, 0))
            {
                await _queue.Writer.WriteAsync(message, ct);
            }
        }

        private async Task WorkAsync()
        {
            var ct = _stop.Token;
            await foreach (var message in _queue.Reader.ReadAllAsync(CancellationToken.None))
            {
                var acknowledging = false;
                try
                {
                    if (ct.IsCancellationRequested)
                    {
                        continue; // left pending in Redis for another replica
                    }

                    Ack ack;
                    try
                    {
                        ack = await handler(message, ct);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        owner._logger.LogWarning(e, "Delivery of {MessageId} on {Topic} failed", message.Id, topic);
                        ack = Ack.Redeliver;
                    }
                    catch (OperationCanceledException)
                    {
                        ack = Ack.Redeliver;
                    }

                    if (ack == Ack.Done)
                    {
                        Interlocked.Increment(ref _succeeded);
                    }
                    else
                    {
                        Interlocked.Increment(ref _failed);
                    }

                    if (ack == Ack.Done)
                    {
                        // Stays in flight (so the reclaim loop leaves it alone) until the XACK is done.
                        acknowledging = _acks.Writer.TryWrite(message.Id);
                    }
                }
                finally
                {
                    if (!acknowledging)
                    {
                        _inFlight.TryRemove(message.Id, out _);
                    }
                }
            }
        }

        private async Task AckLoopAsync()
        {
            var batch = new List<RedisValue>(MaxAckBatch);
            while (await _acks.Reader.WaitToReadAsync(CancellationToken.None))
            {
                while (batch.Count < MaxAckBatch && _acks.Reader.TryRead(out var id))
                {
                    batch.Add(id);
                }

                await AcknowledgeAsync(batch);
                foreach (var id in batch)
                {
                    _inFlight.TryRemove((string)id!, out _);
                }

                batch.Clear();
            }
        }

        private async Task AcknowledgeAsync(List<RedisValue> ids)
        {
            var values = ids.ToArray();
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await Db.StreamAcknowledgeAsync(topic, group, values);
                    return;
                }
                catch (RedisException e) when (attempt < 5)
                {
                    owner._logger.LogWarning("XACK of {Count} entries ({MessageId}..) failed (attempt {Attempt}): {Error}", values.Length, values[0], attempt, e.Message);
                    await Task.Delay(200 * attempt);
                }
                catch (RedisException e)
                {
                    // Still pending in Redis: the reclaim loop delivers them again after processingTimeout.
                    owner._logger.LogError("XACK of {Count} entries ({MessageId}..) failed, they will be redelivered: {Error}", values.Length, values[0], e.Message);
                    return;
                }
            }
        }

        private BrokerMessage Parse(RedisResult[] entry)
        {
            var values = (RedisResult[])entry[1]!;
            byte[] data = [];
            var metadata = NoMetadata;
            for (var i = 0; i + 1 < values.Length; i += 2)
            {
                Field((RedisValue)values[i], (RedisValue)values[i + 1], ref data, ref metadata);
            }

            return new BrokerMessage((string)entry[0]!, topic, data, metadata);
        }

        private BrokerMessage ToMessage(string id, IEnumerable<(RedisValue Name, RedisValue Value)> fields)
        {
            byte[] data = [];
            var metadata = NoMetadata;
            foreach (var (name, value) in fields)
            {
                Field(name, value, ref data, ref metadata);
            }

            return new BrokerMessage(id, topic, data, metadata);
        }

        private static void Field(RedisValue name, RedisValue value, ref byte[] data, ref IReadOnlyDictionary<string, string> metadata)
        {
            if (name == "data")
            {
                data = value!;
            }
            else if (name == "metadata" && !value.IsNullOrEmpty && value != "{}")
            {
                try
                {
                    metadata = JsonSerializer.Deserialize<Dictionary<string, string>>((string)value!) ?? metadata;
                }
                catch (JsonException)
                {
                    // Metadata written by something else: deliver the data anyway.
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _queue.Writer.TryComplete();
            await reader.CloseAsync();
            try
            {
                await Task.WhenAll(_tasks);
            }
            catch (OperationCanceledException)
            {
            }

            // Every worker has finished: acknowledge what they completed before leaving.
            _acks.Writer.TryComplete();
            await _ackLoop;
            await reader.DisposeAsync();
            _stop.Dispose();
        }
    }

    private static async Task TryAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (RedisException)
        {
            // Still unreachable: the read loop tries again.
        }
    }

    private static async Task Delay(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static int? Int(ComponentResource c, string name, int? fallback)
    {
        if (c.Get(name) is not { } text)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
            : throw new ResourceException(c.File, $"spec.metadata[{name}]", $"'{text}' is not a positive whole number");
    }

    private static TimeSpan Duration(ComponentResource c, string name, TimeSpan fallback)
    {
        if (c.Get(name) is not { } text)
        {
            return fallback;
        }

        // A bare number is milliseconds, as in components-contrib's redis settings.
        return GoDuration.TryParse(text, TimeSpan.FromMilliseconds(1), out var d) ? d
            : throw new ResourceException(c.File, $"spec.metadata[{name}]", $"'{text}' is not a duration (e.g. 500ms, 15s)");
    }
}
