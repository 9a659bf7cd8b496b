using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.PubSub;

/// <summary>
/// Gathers the messages a broker hands over one at a time into batches, as daprd's default bulk subscriber does
/// for components without a native bulk subscribe (dapr/dapr <c>pkg/runtime/pubsub/default_bulksub.go</c>,
/// processBulkMessagesBatch): each message's handler call waits until its batch has been answered, so nothing is
/// acknowledged to the broker before the app's answer; a batch is flushed when it holds <c>maxMessagesCount</c>
/// messages or <c>maxAwaitDurationMs</c> after its first message arrived, one batch at a time. As there, a batch
/// can only grow as large as the messages the broker has in flight at once (its <c>concurrency</c>).
/// </summary>
public sealed class BulkBatcher : IAsyncDisposable
{
    private readonly BulkSubscribeOptions _options;
    private readonly Func<IReadOnlyList<BrokerMessage>, CancellationToken, Task<Ack[]>> _flush;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _incoming = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private sealed record Pending(BrokerMessage Message, TaskCompletionSource<Ack> Answer, CancellationToken Caller);

    /// <param name="options">the subscription's batch size and await window</param>
    /// <param name="flush">delivers one batch; answers one <see cref="Ack"/> per message, in order</param>
    /// <param name="logger">where failed batches are reported</param>
    public BulkBatcher(BulkSubscribeOptions options, Func<IReadOnlyList<BrokerMessage>, CancellationToken, Task<Ack[]>> flush, ILogger logger)
    {
        _options = options;
        _flush = flush;
        _logger = logger;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The broker's per-message handler: queues the message and waits for its batch's answer.</summary>
    public async Task<Ack> HandleAsync(BrokerMessage message, CancellationToken ct)
    {
        var pending = new Pending(message, new TaskCompletionSource<Ack>(TaskCreationOptions.RunContinuationsAsynchronously), ct);
        if (!_incoming.Writer.TryWrite(pending))
        {
            return Ack.Redeliver; // stopping
        }

        return await pending.Answer.Task.WaitAsync(ct);
    }

    private async Task LoopAsync()
    {
        var ct = _stop.Token;
        var batch = new List<Pending>(Math.Min(_options.MaxMessagesCount, 1024));
        try
        {
            while (await _incoming.Reader.WaitToReadAsync(ct))
            {
                // The await window is measured from the first message of the batch.
                using (var window = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    window.CancelAfter(_options.MaxAwaitDurationMs);
                    while (batch.Count < _options.MaxMessagesCount)
                    {
                        if (_incoming.Reader.TryRead(out var next))
                        {
                            batch.Add(next);
                            continue;
                        }

                        try
                        {
                            if (!await _incoming.Reader.WaitToReadAsync(window.Token))
                            {
                                break;
                            }
                        }
                        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                        {
                            break; // the window ran out
                        }
                    }
                }

                await FlushAsync(batch, ct);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            // Whatever was not answered stays with the broker.
            foreach (var p in batch)
            {
                p.Answer.TrySetResult(Ack.Redeliver);
            }

            while (_incoming.Reader.TryRead(out var p))
            {
                p.Answer.TrySetResult(Ack.Redeliver);
            }
        }
    }

    private async Task FlushAsync(List<Pending> batch, CancellationToken ct)
    {
        // A message whose broker worker has given up (its subscription stopping) is not sent: the broker has it back.
        batch.RemoveAll(p =>
        {
            if (!p.Caller.IsCancellationRequested)
            {
                return false;
            }

            p.Answer.TrySetResult(Ack.Redeliver);
            return true;
        });
        if (batch.Count == 0)
        {
            return;
        }

        Ack[] acks;
        try
        {
            acks = await _flush(batch.Select(p => p.Message).ToList(), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            _logger.LogWarning(e, "Bulk delivery of {Count} messages on {Topic} failed; they stay with the broker", batch.Count, batch[0].Message.Topic);
            acks = [.. batch.Select(_ => Ack.Redeliver)];
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Answer.TrySetResult(i < acks.Length ? acks[i] : Ack.Redeliver);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _incoming.Writer.TryComplete();
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
