using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Platform.Sidecar.Api;

/// <summary>The metadata API over gRPC (<c>GetMetadata</c>, <c>SetMetadata</c>): renders <see cref="MetadataService.Snapshot"/> as <c>GetMetadataResponse</c>.</summary>
public partial class DaprGrpcService
{
    private static void BindMetadata(ServiceBinderBase binder)
    {
        Add<GetMetadataRequest, GetMetadataResponse>(binder, nameof(GetMetadata));
        Add<SetMetadataRequest, Empty>(binder, nameof(SetMetadata));
    }

    public virtual Task<GetMetadataResponse> GetMetadata(GetMetadataRequest request, ServerCallContext context)
    {
        var m = MetadataService.Snapshot(rt);
        var response = new GetMetadataResponse
        {
            Id = m.Id,
            RuntimeVersion = m.RuntimeVersion,
            AppConnectionProperties = new AppConnectionProperties
            {
                Port = m.App.Port,
                Protocol = m.App.Protocol,
                ChannelAddress = m.App.ChannelAddress,
                MaxConcurrency = m.App.MaxConcurrency,
            },
        };
        foreach (var c in m.Components)
        {
            var registered = new RegisteredComponents { Name = c.Name, Type = c.Type, Version = c.Version };
            registered.Capabilities.AddRange(c.Capabilities);
            response.RegisteredComponents.Add(registered);
        }

        foreach (var (k, v) in m.Extended)
        {
            response.ExtendedMetadata[k] = v;
        }

        var actorRuntime = new ActorRuntime
        {
            RuntimeStatus = ActorRuntime.Types.ActorRuntimeStatus.Running,
            HostReady = m.ActorHostReady,
            Placement = MetadataService.Placement,
        };
        foreach (var (type, count) in m.ActiveActors)
        {
            // The deprecated top-level list, for clients older than actor_runtime (the 1.19 SDK reads actor_runtime).
#pragma warning disable CS0612
            response.ActiveActorsCount.Add(new ActiveActorsCount { Type = type, Count = count });
#pragma warning restore CS0612
            actorRuntime.ActiveActors.Add(new ActiveActorsCount { Type = type, Count = count });
        }

        response.ActorRuntime = actorRuntime;
        foreach (var s in m.Subscriptions)
        {
            var sub = new PubsubSubscription
            {
                PubsubName = s.PubSubName,
                Topic = s.Topic,
                DeadLetterTopic = s.DeadLetterTopic ?? "",
                Type = s.Origin == "app" ? PubsubSubscriptionType.Programmatic : PubsubSubscriptionType.Declarative,
                Rules = new PubsubSubscriptionRules(),
            };
            sub.Metadata.Add(s.Metadata.ToDictionary());
            sub.Rules.Rules.AddRange(s.Rules.Select(r => new PubsubSubscriptionRule { Match = r.Match, Path = r.Path }));
            response.Subscriptions.Add(sub);
        }

        return Task.FromResult(response);
    }

    public virtual Task<Empty> SetMetadata(SetMetadataRequest request, ServerCallContext context)
    {
        MetadataService.Set(rt, request.Key, request.Value);
        return Task.FromResult(new Empty());
    }
}
