namespace Platform.Sidecar.Tests.Actors;

/// <summary>
/// A state read for an actor type nobody hosts. daprd 1.14 refused it (ERR_ACTOR_INSTANCE_MISSING, 400); since 1.15
/// daprd reads the store without asking whether the actor is hosted (dapr/dapr pkg/api/http/actors.go
/// <c>onGetActorState</c>, pkg/actors/state/state.go <c>Get</c>), so an absent key is an empty 204. The key
/// carries this sidecar's app-id, so an app reads only its own app's actor state either way.
/// </summary>
public sealed class ActorStateUnknownTypeTests
{
    [Fact]
    public async Task GetActorState_TypeNobodyHosts_EmptyAsDaprd()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        using var response = await http.GetAsync("/v1.0/actors/NoSuchType/x/state/k");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }
}
