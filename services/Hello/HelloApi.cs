using Dapr.Client;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Platform.Hello;

public sealed record Greeting(string Message, string Instance, long Count);

public static class HelloApi
{
    public const string StateStore = "statestore";
    public const string CounterKey = "hello-count";

    public static IEndpointRouteBuilder MapHelloApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/hello", SayHelloAsync);
        return routes;
    }

    /// <summary>Greets, naming the replica that answered and how many greetings all replicas gave so far.</summary>
    public static async Task<Ok<Greeting>> SayHelloAsync(DaprClient dapr, IConfiguration configuration, CancellationToken ct)
    {
        var instance = configuration["APP_INSTANCE"] is { Length: > 0 } i ? i : Environment.MachineName;
        var count = await CountAsync(dapr, ct);
        return TypedResults.Ok(new Greeting($"Hello from {instance}", instance, count));
    }

    // Replicas answer concurrently and share the counter: read it with its ETag and write it back only if
    // nobody wrote in between (first-write without an ETag only creates), else read again. No call is lost.
    private static async Task<long> CountAsync(DaprClient dapr, CancellationToken ct)
    {
        var options = new StateOptions { Concurrency = ConcurrencyMode.FirstWrite };
        while (true)
        {
            var (count, etag) = await dapr.GetStateAndETagAsync<long>(StateStore, CounterKey, cancellationToken: ct);
            if (await dapr.TrySaveStateAsync(StateStore, CounterKey, count + 1, etag ?? "", options, cancellationToken: ct))
            {
                return count + 1;
            }
        }
    }
}
