using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Orders.Tests;

public sealed class OrdersApiTests(OrdersApp app) : IClassFixture<OrdersApp>
{
    [Fact]
    public async Task Publish_Event_IsStoredAndReadableThroughInvocation()
    {
        var id = Guid.NewGuid().ToString("N");

        await app.Dapr.PublishEventAsync("pubsub", "orders", new { id, text = "first" });

        // Delivery is asynchronous: poll through the sidecar (service invocation) until it shows, with a deadline.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        using var invoke = new HttpClient();
        while (true)
        {
            var response = await invoke.GetAsync($"{app.Sidecar.HttpEndpoint}/v1.0/invoke/orders/method/orders/{id}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var item = await response.Content.ReadFromJsonAsync<OrdersItem>(JsonSerializerOptions.Web);
                Assert.Equal(id, item!.Id);
                Assert.Equal("first", item.Text);
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the event never showed up: last answer {(int)response.StatusCode}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Get_UnknownId_Returns404ProblemDetails()
    {
        var response = await app.App.GetAsync("/orders/nobody");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("not-found", problem.RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task OnEvent_WithoutId_IsDroppedAndStoresNothing()
    {
        var response = await app.App.PostAsJsonAsync("/events/orders", new { text = "no id" });

        response.EnsureSuccessStatusCode();
        Assert.Equal("DROP", (await response.Content.ReadFromJsonAsync<TopicResponse>(JsonSerializerOptions.Web))!.Status);
        Assert.Equal(HttpStatusCode.NotFound, (await app.App.GetAsync("/orders/")).StatusCode);
    }

    [Fact]
    public async Task Subscribe_ListsTheOrdersTopic()
    {
        var subscriptions = await app.App.GetStringAsync("/dapr/subscribe");

        using var json = JsonDocument.Parse(subscriptions);
        Assert.Contains(json.RootElement.EnumerateArray(), s => s.GetProperty("pubsubName").GetString() == "pubsub" && s.GetProperty("topic").GetString() == "orders");
    }
}
