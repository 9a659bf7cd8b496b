using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Platform.Live.Follower;
using Platform.Live.Views;

namespace Platform.Live.Tests;

/// <summary>
/// The follower's fan-out on its own (no server): batches of deltas, one write per client per pass, clients ending
/// from inside a pass, and deltas a client already has never sent to it again.
/// </summary>
public sealed partial class StreamHubTests
{
    private const string Epoch = "e1";

    [Fact]
    public void FanOut_SeveralDeltasPublishedBetweenPasses_ReachEachClientAsOneWriteInSequenceOrder()
    {
        var hub = Hub();
        var alice = Connected(hub, "alice", seq: 0);
        var bob = Connected(hub, "bob", seq: 0);

        hub.Publish(Load(1));
        hub.Publish(Load(2));
        hub.Publish(Load(3));
        hub.FanOut();

        foreach (var client in new[] { alice, bob })
        {
            Assert.True(client.WaitAsync(CancellationToken.None).IsCompleted);
            var output = new ArrayBufferWriter<byte>();
            Assert.Equal(1, client.WriteQueued(output)); // one write carries all three
            Assert.Equal(["e1.1", "e1.2", "e1.3"], Ids(Encoding.UTF8.GetString(output.WrittenSpan)));
        }
    }

    [Fact]
    public async Task FanOut_AClientWhoseStreamEndsDuringThePass_TheClientsAfterItStillGetTheDelta()
    {
        var hub = Hub();
        var leaving = Connected(hub, "leaving", seq: 0);
        var others = Enumerable.Range(0, 3).Select(i => Connected(hub, $"user-{i}", seq: 0)).ToList();
        // As FollowerApi's loop when its write fails: woken on the fan-out's thread, it ends and disconnects there.
        var loop = EndOnFirstWriteAsync(leaving);

        hub.Publish(Load(1));
        hub.FanOut();
        Assert.True(loop.IsCompleted); // it ran inside the pass, on the fan-out's thread
        await loop;

        Assert.Equal(3, hub.Clients);
        foreach (var client in others)
        {
            Assert.Equal(["e1.1"], Ids(Drain(client)));
        }

        hub.Publish(Load(2));
        hub.FanOut();
        Assert.All(others, client => Assert.Equal(["e1.2"], Ids(Drain(client))));
    }

    [Fact]
    public void FanOut_ADeltaPublishedBeforeAClientConnected_IsNotSentToItAgain()
    {
        var hub = Hub();
        hub.Publish(Load(1)); // applied by the mirror, not yet passed on by the fan-out
        var late = Connected(hub, "late", seq: 1); // its snapshot is at seq 1: it has delta 1

        hub.FanOut();
        Assert.Equal("", Drain(late));

        hub.Publish(Load(2));
        hub.FanOut();
        Assert.Equal(["e1.2"], Ids(Drain(late)));
    }

    [Fact]
    public void Connect_WithLastEventIdBehindAPendingDelta_GetsItOnceFromTheReplayNotAgainFromTheFanOut()
    {
        var hub = Hub();
        var early = Connected(hub, "early", seq: 0);
        hub.Publish(Load(1));
        hub.FanOut();
        hub.Publish(Load(2)); // not yet passed on
        var back = hub.Connect("back", "e1.1", Epoch, 2, Snapshot);

        Assert.Equal(["e1.2"], Ids(Drain(back)));
        hub.FanOut();
        Assert.Equal("", Drain(back));
        Assert.Equal(["e1.1", "e1.2"], Ids(Drain(early)));
    }

    private static StreamHub Hub() => new(Options.Create(new LiveOptions()));

    // Connected at seq, with its snapshot already read.
    private static StreamClient Connected(StreamHub hub, string user, long seq)
    {
        var client = hub.Connect(user, null, Epoch, seq, Snapshot);
        Assert.Contains("event: snapshot", Drain(client), StringComparison.Ordinal);
        return client;
    }

    private static Snapshot Snapshot() => new(Epoch, 0, [], [], [], [], new Totals(0, 0, 0, 0));

    private static Delta Load(long seq) =>
        new(Epoch, seq, 0, DeltaKinds.Load, Load: new LoadView("solver-1", seq / 10.0, 1e6, 1, DateTimeOffset.UnixEpoch));

    private static async Task EndOnFirstWriteAsync(StreamClient client)
    {
        await client.WaitAsync(CancellationToken.None).ConfigureAwait(false); // no context: runs on the waker's thread
        client.Disconnect();
    }

    private static string Drain(StreamClient client)
    {
        var output = new ArrayBufferWriter<byte>();
        client.WriteQueued(output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private static string[] Ids(string stream) => [.. IdLine().Matches(stream).Select(m => m.Groups[1].Value)];

    [GeneratedRegex("^id: (.+)$", RegexOptions.Multiline)]
    private static partial Regex IdLine();
}
