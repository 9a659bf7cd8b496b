using System.Collections.Concurrent;
using Dapr.AppCallback.Autogen.Grpc.v1;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Platform.Sidecar.Tests.Infrastructure;

/// <summary>
/// A gRPC app: serves <c>dapr.proto.runtime.v1.AppCallback</c>, <c>AppCallbackAlpha</c> and <c>AppCallbackHealthCheck</c>
/// (the server bases <c>Dapr.Protos</c> ships) over HTTP/2 without TLS on a free loopback port, with Grpc.AspNetCore.
/// Each callback is a settable delegate; one not set answers Unimplemented, as a generated base does.
/// </summary>
public sealed class GrpcTestApp : IAsyncDisposable
{
    private WebApplication? _web;

    public int Port { get; private set; }

    /// <summary>Whatever the handlers record.</summary>
    public ConcurrentQueue<string> Received { get; } = new();

    /// <summary>The request metadata of every call, with the method's name (e.g. <c>OnInvoke</c>).</summary>
    public ConcurrentQueue<(string Method, Metadata Headers)> Calls { get; } = new();

    public Func<InvokeRequest, ServerCallContext, Task<InvokeResponse>>? OnInvoke { get; set; }

    /// <summary>What <c>ListTopicSubscriptions</c> answers; null: Unimplemented.</summary>
    public List<TopicSubscription>? Subscriptions { get; set; }

    public Func<TopicEventRequest, ServerCallContext, Task<TopicEventResponse>>? OnTopicEvent { get; set; }

    /// <summary><c>AppCallback.OnBulkTopicEvent</c> (the stable one).</summary>
    public Func<TopicEventBulkRequest, ServerCallContext, Task<TopicEventBulkResponse>>? OnBulkTopicEvent { get; set; }

    /// <summary><c>AppCallbackAlpha.OnBulkTopicEventAlpha1</c> (what the JS SDK implements).</summary>
    public Func<TopicEventBulkRequest, ServerCallContext, Task<TopicEventBulkResponse>>? OnBulkTopicEventAlpha1 { get; set; }

    /// <summary>What <c>ListInputBindings</c> answers; null: Unimplemented.</summary>
    public List<string>? InputBindings { get; set; }

    public Func<BindingEventRequest, ServerCallContext, Task<BindingEventResponse>>? OnBindingEvent { get; set; }

    public static async Task<GrpcTestApp> StartAsync(Action<GrpcTestApp> configure)
    {
        var self = new GrpcTestApp();
        configure(self);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(self);
        var web = builder.Build();
        web.MapGrpcService<Callback>();
        web.MapGrpcService<CallbackAlpha>();
        web.MapGrpcService<Health>();
        await web.StartAsync();
        self._web = web;
        self.Port = new Uri(web.Urls.First()).Port;
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        if (_web is not null)
        {
            await _web.StopAsync();
            await _web.DisposeAsync();
            _web = null;
        }
    }

    private static Task<T> Unimplemented<T>(string method) => throw new RpcException(new Status(StatusCode.Unimplemented, $"{method} is not implemented"));

    private T Record<T>(string method, ServerCallContext context, T value)
    {
        Calls.Enqueue((method, context.RequestHeaders));
        return value;
    }

    private sealed class Callback(GrpcTestApp app) : AppCallback.AppCallbackBase
    {
        public override Task<InvokeResponse> OnInvoke(InvokeRequest request, ServerCallContext context) =>
            app.Record("OnInvoke", context, app.OnInvoke)?.Invoke(request, context) ?? Unimplemented<InvokeResponse>("OnInvoke");

        public override Task<ListTopicSubscriptionsResponse> ListTopicSubscriptions(Empty request, ServerCallContext context)
        {
            if (app.Record("ListTopicSubscriptions", context, app.Subscriptions) is not { } subscriptions)
            {
                return Unimplemented<ListTopicSubscriptionsResponse>("ListTopicSubscriptions");
            }

            var response = new ListTopicSubscriptionsResponse();
            response.Subscriptions.AddRange(subscriptions);
            return Task.FromResult(response);
        }

        public override Task<TopicEventResponse> OnTopicEvent(TopicEventRequest request, ServerCallContext context) =>
            app.Record("OnTopicEvent", context, app.OnTopicEvent)?.Invoke(request, context) ?? Unimplemented<TopicEventResponse>("OnTopicEvent");

        public override Task<TopicEventBulkResponse> OnBulkTopicEvent(TopicEventBulkRequest request, ServerCallContext context) =>
            app.Record("OnBulkTopicEvent", context, app.OnBulkTopicEvent)?.Invoke(request, context) ?? Unimplemented<TopicEventBulkResponse>("OnBulkTopicEvent");

        public override Task<ListInputBindingsResponse> ListInputBindings(Empty request, ServerCallContext context)
        {
            if (app.Record("ListInputBindings", context, app.InputBindings) is not { } bindings)
            {
                return Unimplemented<ListInputBindingsResponse>("ListInputBindings");
            }

            var response = new ListInputBindingsResponse();
            response.Bindings.AddRange(bindings);
            return Task.FromResult(response);
        }

        public override Task<BindingEventResponse> OnBindingEvent(BindingEventRequest request, ServerCallContext context) =>
            app.Record("OnBindingEvent", context, app.OnBindingEvent)?.Invoke(request, context) ?? Unimplemented<BindingEventResponse>("OnBindingEvent");
    }

    private sealed class CallbackAlpha(GrpcTestApp app) : AppCallbackAlpha.AppCallbackAlphaBase
    {
        [Obsolete("daprd's alpha bulk callback; served because the JS SDK implements only this one")]
        public override Task<TopicEventBulkResponse> OnBulkTopicEventAlpha1(TopicEventBulkRequest request, ServerCallContext context) =>
            app.Record("OnBulkTopicEventAlpha1", context, app.OnBulkTopicEventAlpha1)?.Invoke(request, context) ?? Unimplemented<TopicEventBulkResponse>("OnBulkTopicEventAlpha1");
    }

    private sealed class Health : AppCallbackHealthCheck.AppCallbackHealthCheckBase
    {
        public override Task<HealthCheckResponse> HealthCheck(Empty request, ServerCallContext context) => Task.FromResult(new HealthCheckResponse());
    }
}
