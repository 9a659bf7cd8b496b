using Xunit.Abstractions;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>Turn-based concurrency and reentrancy, with the SDK and with an app that has no lock of its own.</summary>
public sealed class ActorConcurrencyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ActorWorld _world = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _world.DisposeAsync().AsTask();

    [Fact]
    public async Task Fifty_concurrent_increments_on_one_actor_give_fifty()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A");

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => ActorWorld.Counter(replica.Sidecar, "hot").Increment())));

        Assert.Equal(50, await ActorWorld.Counter(replica.Sidecar, "hot").Get());
        Assert.Equal(Enumerable.Range(1, 50), results.Order());
    }

    [Fact]
    public async Task The_sidecar_runs_one_call_at_a_time_per_actor_but_actors_in_parallel()
    {
        await using var app = await RawActorApp.StartAsync(reentrant: false);
        var sidecar = await _world.StartSidecarAsync(ActorWorld.NewAppId("raw"), app.Port);
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        var sameActor = Enumerable.Range(0, 12).Select(_ => http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/one/method/work", null));
        var manyActors = Enumerable.Range(0, 12).Select(i => http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/other-{i}/method/work", null));
        var responses = await Task.WhenAll(sameActor.Concat(manyActors));

        Assert.All(responses, r => Assert.Equal(200, (int)r.StatusCode));
        Assert.Equal(1, app.MaxInFlightPerActor);
        Assert.True(app.MaxInFlightAll > 1, "different actors should run side by side");
        foreach (var r in responses)
        {
            r.Dispose();
        }
    }

    [Fact]
    public async Task Reentrant_calls_with_the_same_id_enter_up_to_the_stack_depth()
    {
        await using var app = await RawActorApp.StartAsync(reentrant: true, maxStackDepth: 4);
        var sidecar = await _world.StartSidecarAsync(ActorWorld.NewAppId("raw"), app.Port);
        app.SidecarEndpoint = sidecar.HttpEndpoint;
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        // Depth 4 in all (the call and 3 nested ones): allowed, and the sidecar made up a reentrancy id for the chain.
        using var ok = await http.PutAsJsonAsync($"/v1.0/actors/{RawActorApp.TypeName}/r/method/recurse", new { depth = 3 });
        Assert.Equal(200, (int)ok.StatusCode);
        Assert.False(string.IsNullOrEmpty((await ok.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reentrancyId").GetString()));

        // Depth 5: the innermost call is refused with ERR_ACTOR_STACK_DEPTH; each level above answers 500 to the
        // sidecar, which (as daprd) reports a non-200 answer of the app as ERR_ACTOR_INVOKE_METHOD, quoting it.
        using var tooDeep = await http.PutAsJsonAsync($"/v1.0/actors/{RawActorApp.TypeName}/r/method/recurse", new { depth = 4 });
        Assert.Equal(500, (int)tooDeep.StatusCode);
        var error = await tooDeep.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ERR_ACTOR_INVOKE_METHOD", error.GetProperty("errorCode").GetString());
        Assert.Contains("ERR_ACTOR_STACK_DEPTH", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
