using System.Threading.Channels;
using Dapr.Client.Autogen.Grpc.v1;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Platform.Sidecar.Configuration;
using ConfigurationItem = Platform.Sidecar.Configuration.ConfigurationItem;
using ProtoItem = Dapr.Client.Autogen.Grpc.v1.ConfigurationItem;

namespace Platform.Sidecar.Api;

/// <summary>
/// The configuration API over gRPC (dapr/dapr <c>pkg/api/grpc/grpc.go</c>): <c>GetConfiguration[Alpha1]</c>,
/// the server stream <c>SubscribeConfiguration[Alpha1]</c> (first message: the subscription id alone, then one
/// message per update) and <c>UnsubscribeConfiguration[Alpha1]</c>, which ends that stream.
/// </summary>
public partial class DaprGrpcService
{
    static partial void BindConfiguration(ServiceBinderBase binder)
    {
        Add<GetConfigurationRequest, GetConfigurationResponse>(binder, nameof(GetConfiguration));
        Add<GetConfigurationRequest, GetConfigurationResponse>(binder, nameof(GetConfigurationAlpha1));
        AddServerStreaming<SubscribeConfigurationRequest, SubscribeConfigurationResponse>(binder, nameof(SubscribeConfiguration));
        AddServerStreaming<SubscribeConfigurationRequest, SubscribeConfigurationResponse>(binder, nameof(SubscribeConfigurationAlpha1));
        Add<UnsubscribeConfigurationRequest, UnsubscribeConfigurationResponse>(binder, nameof(UnsubscribeConfiguration));
        Add<UnsubscribeConfigurationRequest, UnsubscribeConfigurationResponse>(binder, nameof(UnsubscribeConfigurationAlpha1));
    }

    public virtual async Task<GetConfigurationResponse> GetConfiguration(GetConfigurationRequest request, ServerCallContext context)
    {
        var items = await rt.Configuration.GetAsync(request.StoreName, [.. request.Keys], request.Metadata.ToDictionary(), context.CancellationToken);
        var response = new GetConfigurationResponse();
        AddItems(response.Items, items);
        return response;
    }

    public virtual Task<GetConfigurationResponse> GetConfigurationAlpha1(GetConfigurationRequest request, ServerCallContext context) => GetConfiguration(request, context);

    public virtual async Task SubscribeConfiguration(SubscribeConfigurationRequest request, IServerStreamWriter<SubscribeConfigurationResponse> stream, ServerCallContext context)
    {
        // Updates wait in a queue until the id has gone out, and are written one at a time (daprd's readyCh and lock).
        var updates = Channel.CreateUnbounded<SubscribeConfigurationResponse>(new UnboundedChannelOptions { SingleReader = true });
        var id = await rt.Configuration.SubscribeAsync(request.StoreName, [.. request.Keys.Order(StringComparer.Ordinal)], request.Metadata.ToDictionary(), update =>
        {
            var message = new SubscribeConfigurationResponse { Id = update.Id };
            AddItems(message.Items, update.Items);
            updates.Writer.TryWrite(message);
            return Task.CompletedTask;
        }, context.CancellationToken);

        using var stop = new CancellationTokenSource();
        // The sidecar stopping ends the stream too, as daprd's shutdown closes it (rather than holding the stop).
        var stopping = context.GetHttpContext().RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        try
        {
            using (rt.Configuration.RegisterStream(id, stop))
            using (var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, stop.Token, stopping))
            {
                await stream.WriteAsync(new SubscribeConfigurationResponse { Id = id }, context.CancellationToken);
                try
                {
                    await foreach (var message in updates.Reader.ReadAllAsync(ended.Token))
                    {
                        await stream.WriteAsync(message, context.CancellationToken);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested || stopping.IsCancellationRequested)
                {
                    // UnsubscribeConfiguration (or shutdown) ended the stream: it completes normally, as daprd's does.
                }
            }
        }
        finally
        {
            try
            {
                await rt.Configuration.Store(request.StoreName).UnsubscribeAsync(id, CancellationToken.None);
            }
            catch (SubscriptionNotFoundException)
            {
                // already dropped through the HTTP API's unsubscribe
            }
        }
    }

    public virtual Task SubscribeConfigurationAlpha1(SubscribeConfigurationRequest request, IServerStreamWriter<SubscribeConfigurationResponse> stream, ServerCallContext context) =>
        SubscribeConfiguration(request, stream, context);

    public virtual Task<UnsubscribeConfigurationResponse> UnsubscribeConfiguration(UnsubscribeConfigurationRequest request, ServerCallContext context)
    {
        var (ok, message) = rt.Configuration.StopStream(request.Id);
        return Task.FromResult(new UnsubscribeConfigurationResponse { Ok = ok, Message = message ?? "" });
    }

    public virtual Task<UnsubscribeConfigurationResponse> UnsubscribeConfigurationAlpha1(UnsubscribeConfigurationRequest request, ServerCallContext context) =>
        UnsubscribeConfiguration(request, context);

    private static void AddItems(Google.Protobuf.Collections.MapField<string, ProtoItem> target, IReadOnlyDictionary<string, ConfigurationItem> items)
    {
        foreach (var (key, item) in items)
        {
            var proto = new ProtoItem { Value = item.Value, Version = item.Version };
            proto.Metadata.Add(item.Metadata.ToDictionary());
            target[key] = proto;
        }
    }
}
