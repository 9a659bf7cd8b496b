using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;
using DaprGrpc = Dapr.Client.Autogen.Grpc.v1;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>
/// The actor API over gRPC, called as the JS SDK's <c>ActorClientGRPC</c> calls it (the <c>Dapr.Protos</c> client
/// stub, the same messages): methods, state, reminders and timers reach the same actors as the HTTP API, also when
/// another sidecar owns the actor; bad calls get daprd's codes and change nothing.
/// </summary>
public sealed class ActorGrpcApiTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ActorWorld _world = new(output);
    private readonly List<GrpcChannel> _channels = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _channels.ForEach(c => c.Dispose());
        await _world.DisposeAsync();
    }

    private DaprGrpc.Dapr.DaprClient Grpc(SidecarHost sidecar)
    {
        var channel = GrpcChannel.ForAddress(sidecar.GrpcEndpoint);
        _channels.Add(channel);
        return new DaprGrpc.Dapr.DaprClient(channel);
    }

    [Fact]
    public async Task InvokeActor_AndState_ReachTheSameActorAsTheHttpApi()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A");
        var grpc = Grpc(replica.Sidecar);

        var first = await grpc.InvokeActorAsync(new DaprGrpc.InvokeActorRequest { ActorType = CounterActor.TypeName, ActorId = "g1", Method = nameof(ICounter.Increment) });
        Assert.Equal("1", first.Data.ToStringUtf8());
        Assert.Equal(2, await ActorWorld.Counter(replica.Sidecar, "g1").Increment()); // the proxy (HTTP) reaches the same actor

        var state = await grpc.GetActorStateAsync(new DaprGrpc.GetActorStateRequest { ActorType = CounterActor.TypeName, ActorId = "g1", Key = "count" });
        Assert.Equal("2", state.Data.ToStringUtf8());
        var missing = await grpc.GetActorStateAsync(new DaprGrpc.GetActorStateRequest { ActorType = CounterActor.TypeName, ActorId = "g1", Key = "nothing" });
        Assert.True(missing.Data.IsEmpty);

        // A transaction as ActorClientGRPC sends it: the value's bytes in an Any, stored as they are.
        var tx = new DaprGrpc.ExecuteActorStateTransactionRequest { ActorType = CounterActor.TypeName, ActorId = "g1" };
        tx.Operations.Add(new DaprGrpc.TransactionalActorStateOperation { OperationType = "upsert", Key = "note", Value = new Any { Value = ByteString.CopyFromUtf8("{\"a\":1}") } });
        tx.Operations.Add(new DaprGrpc.TransactionalActorStateOperation { OperationType = "delete", Key = "count" });
        await grpc.ExecuteActorStateTransactionAsync(tx);

        using var http = new HttpClient { BaseAddress = new Uri(replica.Sidecar.HttpEndpoint) };
        Assert.Equal("{\"a\":1}", await http.GetStringAsync($"/v1.0/actors/{CounterActor.TypeName}/g1/state/note"));
        using var gone = await http.GetAsync($"/v1.0/actors/{CounterActor.TypeName}/g1/state/count");
        Assert.Equal(204, (int)gone.StatusCode);
    }

    [Fact]
    public async Task InvokeActor_OnASidecarThatDoesNotHostTheType_IsForwardedToTheOwner()
    {
        var appId = ActorWorld.NewAppId();
        var replica = await _world.StartReplicaAsync(appId, "owner");
        var caller = await _world.StartSidecarAsync(ActorWorld.NewAppId("caller"), appPort: null);
        var grpc = Grpc(caller);

        var where = await grpc.InvokeActorAsync(new DaprGrpc.InvokeActorRequest { ActorType = CounterActor.TypeName, ActorId = "far", Method = nameof(ICounter.WhereAmI) });
        Assert.Equal("\"owner\"", where.Data.ToStringUtf8());
        await grpc.InvokeActorAsync(new DaprGrpc.InvokeActorRequest { ActorType = CounterActor.TypeName, ActorId = "far", Method = nameof(ICounter.Increment) });
        Assert.Equal(1, await ActorWorld.Counter(replica.Sidecar, "far").Get());
        Assert.Contains("far", replica.Probe.Activated);
    }

    [Fact]
    public async Task RemindersAndTimers_FireAsDaprdSendsThem_DataAsBase64_AndUnregister()
    {
        await using var app = await RawActorApp.StartAsync(reentrant: false);
        var sidecar = await _world.StartSidecarAsync(ActorWorld.NewAppId("raw"), app.Port);
        var grpc = Grpc(sidecar);

        await grpc.RegisterActorReminderAsync(new DaprGrpc.RegisterActorReminderRequest
        {
            ActorType = RawActorApp.TypeName, ActorId = "echo", Name = "rem", DueTime = "0s", Period = "PT1H", Data = ByteString.CopyFromUtf8("hello"),
        });
        await grpc.RegisterActorTimerAsync(new DaprGrpc.RegisterActorTimerRequest
        {
            ActorType = RawActorApp.TypeName, ActorId = "echo", Name = "tim", DueTime = "0s", Period = "", Callback = "OnTick", Data = ByteString.CopyFromUtf8("{\"n\":1}"),
        });

        await ActorWorld.Eventually(() => app.Callbacks.Count >= 2, "the reminder and the timer to fire");
        var byPath = app.Callbacks.ToDictionary(c => c.Path, c => c.Body);
        // daprd json.Marshal-s the gRPC data bytes, so the app sees a base64 string ("hello" → aGVsbG8=).
        Assert.Equal("""{"dueTime":"0s","period":"PT1H","data":"aGVsbG8="}""", byPath[$"PUT /actors/{RawActorApp.TypeName}/echo/method/remind/rem"]);
        Assert.Equal("""{"callback":"OnTick","dueTime":"0s","period":"","data":"eyJuIjoxfQ=="}""", byPath[$"PUT /actors/{RawActorApp.TypeName}/echo/method/timer/tim"]);

        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        using (var r = await http.GetAsync($"/v1.0/actors/{RawActorApp.TypeName}/echo/reminders/rem"))
        {
            Assert.Equal(200, (int)r.StatusCode);
        }

        await grpc.UnregisterActorReminderAsync(new DaprGrpc.UnregisterActorReminderRequest { ActorType = RawActorApp.TypeName, ActorId = "echo", Name = "rem" });
        await grpc.UnregisterActorTimerAsync(new DaprGrpc.UnregisterActorTimerRequest { ActorType = RawActorApp.TypeName, ActorId = "echo", Name = "tim" });
        using var after = await http.GetAsync($"/v1.0/actors/{RawActorApp.TypeName}/echo/reminders/rem");
        Assert.Equal(404, (int)after.StatusCode);
    }

    [Fact]
    public async Task BadCalls_GetDaprdsCodes_AndChangeNothing()
    {
        await using var app = await RawActorApp.StartAsync(reentrant: false);
        var sidecar = await _world.StartSidecarAsync(ActorWorld.NewAppId("raw"), app.Port);
        var grpc = Grpc(sidecar);

        var noType = await Assert.ThrowsAsync<RpcException>(() => grpc.InvokeActorAsync(new DaprGrpc.InvokeActorRequest { ActorId = "x", Method = "work" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, noType.StatusCode);

        var noName = await Assert.ThrowsAsync<RpcException>(() => grpc.RegisterActorReminderAsync(new DaprGrpc.RegisterActorReminderRequest
        {
            ActorType = RawActorApp.TypeName, ActorId = "x", DueTime = "0s",
        }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, noName.StatusCode);

        var notHosted = await Assert.ThrowsAsync<RpcException>(() => grpc.RegisterActorReminderAsync(new DaprGrpc.RegisterActorReminderRequest
        {
            ActorType = "OtherType", ActorId = "x", Name = "rem", DueTime = "0s",
        }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, notHosted.StatusCode);

        var tx = new DaprGrpc.ExecuteActorStateTransactionRequest { ActorType = RawActorApp.TypeName, ActorId = "x" };
        tx.Operations.Add(new DaprGrpc.TransactionalActorStateOperation { OperationType = "upsert", Key = "k", Value = new Any { Value = ByteString.CopyFromUtf8("1") } });
        tx.Operations.Add(new DaprGrpc.TransactionalActorStateOperation { OperationType = "merge", Key = "k2" });
        var badOp = await Assert.ThrowsAsync<RpcException>(() => grpc.ExecuteActorStateTransactionAsync(tx).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, badOp.StatusCode);
        Assert.Contains("operation type merge not supported", badOp.Status.Detail, StringComparison.Ordinal);
        var k = await grpc.GetActorStateAsync(new DaprGrpc.GetActorStateRequest { ActorType = RawActorApp.TypeName, ActorId = "x", Key = "k" });
        Assert.True(k.Data.IsEmpty, "a refused transaction wrote its valid operation");
        Assert.Empty(app.Callbacks);
    }
}
