using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Checks;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests;

/// <summary>
/// tye.yaml, dapr.yaml, components/*/ and every overlay agree; and the check is shown to catch a disagreement of
/// each kind, by breaking an in-memory copy (the files are never touched).
/// </summary>
public sealed class ConsistencyTests
{
    private static readonly Dictionary<string, (Action<Sources> Break, string Reported)> Mutations = new()
    {
        ["app-id annotation"] = (s => Workload(s, "kafka", "routing").PodAnnotations()["dapr.io/app-id"] = "router",
            "overlays/kafka: no workload runs app 'routing'"),
        ["app-port vs container port"] = (s => Workload(s, "redis", "hello").PodAnnotations()["dapr.io/app-port"] = "8081",
            "overlays/redis: Deployment/hello: app-port 8081, container port 'http' 8080, app listens on 8080"),
        ["fraud's listening port"] = (s => Workload(s, "pulsar", "fraud").AppContainer()["env"]![0]!["value"] = "3002",
            "overlays/pulsar: Deployment/fraud: app-port 3001, container port 'http' 3001, app listens on 3002"),
        ["dapr.yaml port"] = (s => s.DaprRun["apps"]!.AsArray().Objects().Single(a => (string?)a["appID"] == "ledger")["appPort"] = 5999,
            "dapr.yaml: app 'ledger' listens on 5999, tye.yaml says 5101"),
        ["dapr.yaml app missing"] = (s => s.DaprRun["apps"]!.AsArray().RemoveAt(0),
            "dapr.yaml: app 'hello' of tye.yaml is missing"),
        ["tye app-id"] = (s => s.Tye["extensions"]![0]!["services"]!["balances"]!["app-id"] = "balance",
            "tye.yaml: the dapr extension gives service 'balances' app-id 'balance'"),
        ["contract app missing from tye"] = (s => s.Tye["services"]!.AsArray().RemoveAt(0),
            "tye.yaml: contract app 'ledger' is missing"),
        ["pubsub renamed in one overlay"] = (s => Component(s, "pulsar", "pubsub")["metadata"]!["name"] = "events",
            "overlays/pulsar: component 'pubsub' of components/pulsar is not deployed"),
        ["pubsub type in an overlay"] = (s => Component(s, "kafka", "pubsub")["spec"]!["type"] = "pubsub.redis",
            "overlays/kafka: component 'pubsub' is pubsub.redis here, pubsub.kafka in components/kafka"),
        ["component renamed locally"] = (s => s.Components["redis"].OfKind("Component").Single(c => c.Name() == "statestore")["metadata"]!["name"] = "state",
            "components/redis: components [pubsub, state, views-broadcast], expected [pubsub, statestore, views-broadcast]"),
        ["consumer group overridden"] = (s => Component(s, "redis", "pubsub")["spec"]!["metadata"]!.AsArray()
                .Add(new JsonObject { ["name"] = "consumerID", ["value"] = "platform" }),
            "overlays/redis: Component/pubsub sets consumerID: consumer groups must stay the app-id"),
        ["KEDA topic"] = (s => Scaler(s, "kafka", "fraud")["spec"]!["triggers"]![0]!["metadata"]!["topic"] = "alerts",
            "overlays/kafka: ScaledObject/fraud: kafka trigger watches topic 'alerts', fraud reads 'ledger'"),
        ["KEDA consumer group"] = (s => Scaler(s, "redis", "balances")["spec"]!["triggers"]![0]!["metadata"]!["consumerGroup"] = "ledger",
            "overlays/redis: ScaledObject/balances: redis-streams trigger watches consumer group 'ledger', Dapr's consumer id is the app-id 'balances'"),
        ["Pulsar subscription"] = (s => Scaler(s, "pulsar", "fraud")["spec"]!["triggers"]![0]!["metadata"]!["subscription"] = "fraud-sub",
            "overlays/pulsar: ScaledObject/fraud: pulsar trigger watches consumer group 'fraud-sub', Dapr's consumer id is the app-id 'fraud'"),
        ["KEDA reads another Kafka"] = (s => Scaler(s, "kafka", "balances")["spec"]!["triggers"]![0]!["metadata"]!["bootstrapServers"] = "events.kafka.svc.cluster.local:9092",
            "overlays/kafka: ScaledObject/balances: kafka trigger reads events.kafka.svc.cluster.local:9092, the pubsub component uses kafka.kafka.svc.cluster.local:9092"),
        ["KEDA reads another Redis"] = (s => Scaler(s, "redis", "fraud")["spec"]!["triggers"]![0]!["metadata"]!["address"] = "cache.platform.svc.cluster.local:6379",
            "overlays/redis: ScaledObject/fraud: redis-streams trigger reads cache.platform.svc.cluster.local:6379, the pubsub component uses redis-master:6379"),
        ["Pulsar tenant"] = (s => Component(s, "pulsar", "pubsub")["spec"]!["metadata"]!.AsArray().Single(m => (string?)m!["name"] == "tenant")!["value"] = "bank",
            "overlays/pulsar: ScaledObject/balances: pulsar trigger topic persistent://public/default/ledger is not under the component's persistent://bank/default/"),
        ["scope names an unknown app"] = (s => Component(s, "kafka", "statestore")["scopes"] = new JsonArray("ledger", "ledgr"),
            "overlays/kafka: Component/statestore is scoped to unknown app 'ledgr'"),
        ["resiliency drifts"] = (s => s.Overlays["redis"].OfKind("Resiliency").Single()["spec"]!["policies"]!["timeouts"]!["general"] = "30s",
            "overlays/redis: Resiliency differs from components/redis/resiliency.yaml"),
        ["access control lets in a stranger"] = (s => s.Overlays["kafka"].Single("Configuration", "platform-solver")["spec"]!["accessControl"]!["policies"]!.AsArray()
                .Add(new JsonObject { ["appId"] = "live", ["defaultAction"] = "allow" }),
            "overlays/kafka: Configuration/platform-solver (config of solver) lets in [live, routing] by default deny; solver is invoked by [routing] only"),
        ["network policy forgets a caller"] = (s => s.Overlays["pulsar"].Single("NetworkPolicy", "ledger")["spec"]!["ingress"]![0]!["from"]!.AsArray().RemoveAt(0),
            "overlays/pulsar: NetworkPolicy of ledger admits [live] to daprd, ledger is invoked by [balances, live]"),
        ["trust domain"] = (s => s.Components["local"].OfKind("Configuration").Single()["spec"]!["accessControl"]!["trustDomain"] = "corp",
            "overlays/redis: Configuration/platform: trust domain differs from the local configuration's"),
        ["locally denied caller allowed"] = (s => s.Components["local"].OfKind("Configuration").Single()["spec"]!["accessControl"]!["policies"] =
                new JsonArray(new JsonObject { ["appId"] = "live", ["defaultAction"] = "deny" }),
            "overlays/redis: 'live' may invoke here but the local configuration does not let it"),
        ["local default deny without the caller"] = (s =>
            {
                var acl = s.Components["kafka"].OfKind("Configuration").Single()["spec"]!["accessControl"]!;
                acl["defaultAction"] = "deny";
                acl["policies"] = new JsonArray(
                    new JsonObject { ["appId"] = "balances", ["defaultAction"] = "allow" },
                    new JsonObject { ["appId"] = "live", ["defaultAction"] = "allow" });
            },
            "overlays/pulsar: 'routing' may invoke here but the local configuration does not let it"),
        ["access control namespace"] = (s => s.Overlays["kafka"].Single("Configuration", "platform-routing")["spec"]!["accessControl"]!["policies"]![0]!["namespace"] = "default",
            "overlays/kafka: Configuration/platform-routing: the policy for 'live' names namespace 'default', the apps run in 'platform'"),
        ["config annotation"] = (s => Workload(s, "redis", "solver").PodAnnotations()["dapr.io/config"] = "platform-solvers",
            "overlays/redis: Deployment/solver: dapr.io/config 'platform-solvers' is not a Configuration here"),
        ["concurrency cap lost"] = (s => Workload(s, "kafka", "solver").PodAnnotations().Remove("dapr.io/app-max-concurrency"),
            "overlays/kafka: Deployment/solver: app-max-concurrency missing"),
    };

    public static TheoryData<string> MutationNames => [.. Mutations.Keys];

    [Fact]
    public void Check_Repository_EverythingAgrees()
    {
        Assert.Empty(Consistency.Check(Sources.Load()));
    }

    [Theory]
    [MemberData(nameof(MutationNames))]
    public void Check_DeliberateMismatch_IsReported(string mutation)
    {
        var sources = Sources.Load();
        var (breakIt, reported) = Mutations[mutation];

        breakIt(sources);

        Assert.Contains(reported, Consistency.Check(sources));
    }

    [Fact]
    public void ScaledConsumers_ReadTheTopicTheirCodeNames()
    {
        foreach (var (app, (topic, source)) in Contract.ScaledConsumers)
        {
            Assert.True(File.ReadAllText(Repo.Path(source)).Contains($"\"{topic}\"", StringComparison.Ordinal), $"{source} does not name topic {topic} ({app})");
        }
    }

    private static JsonObject Workload(Sources s, string broker, string name) => s.Overlays[broker].Single(o => o.IsWorkload() && o.Name() == name);

    private static JsonObject Component(Sources s, string broker, string name) => s.Overlays[broker].Single("Component", name);

    private static JsonObject Scaler(Sources s, string broker, string name) => s.Overlays[broker].Single("ScaledObject", name);
}
