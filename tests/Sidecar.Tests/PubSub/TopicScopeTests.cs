using Dapr;

namespace Platform.Sidecar.Tests.PubSub;

/// <summary>Pub/sub component metadata publishingScopes / subscriptionScopes / allowedTopics, as daprd applies them.</summary>
public sealed class TopicScopeTests
{
    [Fact]
    public async Task Scopes_PublishOutsideScope403_SubscriptionOutsideScopeNotMade()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        cluster.WriteComponent("pubsub.yaml", Yaml.Component("pubsub", "pubsub.in-memory",
            ("publishingScopes", "orders=placed"), ("subscriptionScopes", "billing=placed"), ("allowedTopics", "placed,audit")));
        var (billing, billingSidecar) = await cluster.StartAsync("billing", (web, app) =>
        {
            web.MapPost("/placed", (Placed e) =>
            {
                app.Received.Enqueue("placed:" + e.Id);
                return Results.Ok();
            }).WithTopic("pubsub", "placed");
            web.MapPost("/audit", (Placed e) =>
            {
                app.Received.Enqueue("audit:" + e.Id);
                return Results.Ok();
            }).WithTopic("pubsub", "audit");
        });
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        var outside = await http.PostAsync("/v1.0/publish/pubsub/audit", JsonContent.Create(new Placed("a1")));
        var notAllowed = await http.PostAsync("/v1.0/publish/pubsub/secret", JsonContent.Create(new Placed("s1")));
        var inside = await http.PostAsync("/v1.0/publish/pubsub/placed", JsonContent.Create(new Placed("p1")));

        Assert.Equal(HttpStatusCode.Forbidden, outside.StatusCode);
        Assert.Equal("ERR_PUBSUB_FORBIDDEN", (await outside.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, notAllowed.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, inside.StatusCode);
        await Poll.UntilAsync(() => billing.Received.Contains("placed:p1"), "the in-scope event");
        Assert.DoesNotContain(billingSidecar.Subscriptions, s => s.Topic == "audit");
    }
}
