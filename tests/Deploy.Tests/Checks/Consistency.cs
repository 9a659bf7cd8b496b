using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests.Checks;

/// <summary>
/// Do tye.yaml, dapr.yaml, components/*/ and every deploy overlay tell the same story? App-ids, ports, component
/// names and types, topics, consumer groups, scopes, resiliency and who may invoke whom. Returns every disagreement.
/// </summary>
public static class Consistency
{
    public static IReadOnlyList<string> Check(Sources s)
    {
        var problems = new List<string>();
        problems.AddRange(LocalApps(s));
        problems.AddRange(LocalComponents(s));
        foreach (var (broker, objects) in s.Overlays)
        {
            problems.AddRange(Workloads(objects).Select(p => $"overlays/{broker}: {p}"));
            problems.AddRange(OverlayComponents(s, broker, objects).Select(p => $"overlays/{broker}: {p}"));
            problems.AddRange(Scalers(objects).Select(p => $"overlays/{broker}: {p}"));
            problems.AddRange(AccessControl(s, objects).Select(p => $"overlays/{broker}: {p}"));
        }

        return [.. problems.Distinct()];
    }

    /// <summary>tye.yaml and dapr.yaml: the same apps, app-ids and ports, and with the apps still to come, the contract's.</summary>
    private static IEnumerable<string> LocalApps(Sources s)
    {
        var tye = s.Tye["services"].Objects().ToDictionary(o => (string)o["name"]!, o => (int?)o["bindings"].Objects().FirstOrDefault()?["port"]);
        var daprApps = s.Tye["extensions"].Objects().FirstOrDefault(e => (string?)e["name"] == "dapr")?["services"] as JsonObject ?? [];
        var run = s.DaprRun["apps"].Objects().ToDictionary(o => (string)o["appID"]!, o => (int?)o["appPort"]);

        foreach (var app in Contract.AppIds.Where(a => !tye.ContainsKey(a) && !s.NotYetInTye.Contains(a)))
        {
            yield return $"tye.yaml: contract app '{app}' is missing";
        }

        foreach (var app in tye.Keys.Where(a => !Contract.AppIds.Contains(a)))
        {
            yield return $"tye.yaml: service '{app}' is not a contract app-id";
        }

        foreach (var app in tye.Keys.Where(s.NotYetInTye.Contains))
        {
            yield return $"tye.yaml now has '{app}': remove it from Contract.NotYetInTye";
        }

        foreach (var (app, port) in tye)
        {
            // Tye's Dapr extension defaults a service's app-id to its name; only an explicit different one disagrees.
            if (daprApps[app]?["app-id"] is JsonValue id && (string?)id != app)
            {
                yield return $"tye.yaml: the dapr extension gives service '{app}' app-id '{(string?)daprApps[app]?["app-id"]}'";
            }

            if (!run.TryGetValue(app, out var runPort))
            {
                yield return $"dapr.yaml: app '{app}' of tye.yaml is missing";
            }
            else if (runPort != port)
            {
                yield return $"dapr.yaml: app '{app}' listens on {runPort}, tye.yaml says {port}";
            }
        }

        foreach (var app in run.Keys.Where(a => !tye.ContainsKey(a)))
        {
            yield return $"dapr.yaml: app '{app}' is not in tye.yaml";
        }
    }

    /// <summary>Every components/&lt;set&gt; has the contract's component names, sane scopes, and its broker's pub/sub type.</summary>
    private static IEnumerable<string> LocalComponents(Sources s)
    {
        foreach (var (set, objects) in s.Components)
        {
            var names = objects.OfKind("Component").Select(c => c.Name()).Order().ToList();
            if (!names.SequenceEqual(Contract.ComponentNames.Order()))
            {
                yield return $"components/{set}: components [{string.Join(", ", names)}], expected [{string.Join(", ", Contract.ComponentNames)}]";
            }

            foreach (var problem in ScopesAndConsumerIds(objects))
            {
                yield return $"components/{set}: {problem}";
            }
        }

        foreach (var (broker, type) in Contract.PubSubTypes)
        {
            var local = s.Components.GetValueOrDefault(broker)?.OfKind("Component").FirstOrDefault(c => c.Name() == "pubsub");
            if ((string?)local?["spec"]?["type"] != type)
            {
                yield return $"components/{broker}: pubsub is {(string?)local?["spec"]?["type"] ?? "missing"}, expected {type}";
            }
        }
    }

    /// <summary>Scopes name real apps; nobody overrides the consumer id, so it stays the app-id (as KEDA assumes).</summary>
    private static IEnumerable<string> ScopesAndConsumerIds(List<JsonObject> objects)
    {
        foreach (var o in objects.Where(o => o.ApiVersion().StartsWith("dapr.io/", StringComparison.Ordinal)))
        {
            foreach (var app in o["scopes"].Strings().Where(a => !Contract.AppIds.Contains(a)))
            {
                yield return $"{o.Id()} is scoped to unknown app '{app}'";
            }
        }

        foreach (var c in objects.OfKind("Component"))
        {
            var broadcast = c.Name() == Contract.BroadcastComponent;
            foreach (var name in new[] { "consumerID", "consumerGroup" }.Where(n => c.MetadataValue(n) is { } v && v != "{appID}" && !(broadcast && v is "{podName}" or "{uuid}")))
            {
                yield return $"{c.Id()} sets {name}: consumer groups must stay the app-id";
            }
        }

        foreach (var r in objects.OfKind("Resiliency"))
        {
            foreach (var app in (r["spec"]?["targets"]?["apps"] as JsonObject ?? []).Select(kv => kv.Key).Where(a => !Contract.AppIds.Contains(a)))
            {
                yield return $"{r.Id()} targets unknown app '{app}'";
            }
        }
    }

    /// <summary>Every contract app runs, named by its app-id, on one port everywhere it is written down.</summary>
    private static IEnumerable<string> Workloads(List<JsonObject> objects)
    {
        var workloads = objects.Where(o => o.IsWorkload()).ToList();
        var ids = workloads.Select(w => w.Annotation("dapr.io/app-id") ?? $"<{w.Id()} without app-id>").ToList();
        foreach (var app in Contract.AppIds.Except(ids))
        {
            yield return $"no workload runs app '{app}'";
        }

        foreach (var app in ids.Except(Contract.AppIds))
        {
            yield return $"workload app-id '{app}' is not a contract app-id";
        }

        foreach (var w in workloads)
        {
            var app = w.Annotation("dapr.io/app-id");
            if (w.Name() != app)
            {
                yield return $"{w.Id()} runs app-id '{app}': name the workload after its app-id";
            }

            var container = w.AppContainer();
            var httpPort = container["ports"].Objects().FirstOrDefault(p => (string?)p["name"] == "http")?["containerPort"]?.ToString();
            var listens = container["env"].Objects()
                .FirstOrDefault(e => (string?)e["name"] is "ASPNETCORE_HTTP_PORTS" or "APP_PORT")?["value"]?.ToString();
            if (w.Annotation("dapr.io/app-port") != httpPort || httpPort != listens)
            {
                yield return $"{w.Id()}: app-port {w.Annotation("dapr.io/app-port")}, container port 'http' {httpPort}, app listens on {listens}";
            }

            var config = w.Annotation("dapr.io/config");
            if (!objects.OfKind("Configuration").Any(c => c.Name() == config))
            {
                yield return $"{w.Id()}: dapr.io/config '{config}' is not a Configuration here";
            }

            var capped = w.Annotation("dapr.io/app-max-concurrency") is not null;
            if (capped != Contract.MaxConcurrencyApps.Contains(app ?? ""))
            {
                yield return $"{w.Id()}: app-max-concurrency {(capped ? "set" : "missing")}";
            }
        }
    }

    /// <summary>The overlay's components are components/&lt;broker&gt;'s: same names, same types, same resiliency.</summary>
    private static IEnumerable<string> OverlayComponents(Sources s, string broker, List<JsonObject> objects)
    {
        var local = s.Components.GetValueOrDefault(broker) ?? [];
        var deployed = objects.OfKind("Component").ToDictionary(c => c.Name(), c => (string?)c["spec"]?["type"]);
        var expected = local.OfKind("Component").ToDictionary(c => c.Name(), c => (string?)c["spec"]?["type"]);
        foreach (var name in expected.Keys.Union(deployed.Keys).Order())
        {
            if (!deployed.TryGetValue(name, out var type))
            {
                yield return $"component '{name}' of components/{broker} is not deployed";
            }
            else if (!expected.TryGetValue(name, out var localType))
            {
                yield return $"component '{name}' is not in components/{broker}";
            }
            else if (type != localType)
            {
                yield return $"component '{name}' is {type} here, {localType} in components/{broker}";
            }
        }

        foreach (var problem in ScopesAndConsumerIds(objects))
        {
            yield return problem;
        }

        var resiliency = objects.OfKind("Resiliency").SingleOrDefault();
        var localResiliency = local.OfKind("Resiliency").SingleOrDefault();
        if (!JsonNode.DeepEquals(resiliency?["spec"], localResiliency?["spec"]))
        {
            yield return $"Resiliency differs from components/{broker}/resiliency.yaml";
        }
    }

    /// <summary>KEDA scales exactly the contract's consumers, on their topic and their consumer group (= app-id).</summary>
    private static IEnumerable<string> Scalers(List<JsonObject> objects)
    {
        var scaled = objects.OfKind("ScaledObject").ToList();
        var pubsub = objects.OfKind("Component").FirstOrDefault(c => c.Name() == "pubsub");
        foreach (var app in Contract.ScaledConsumers.Keys.Except(scaled.Select(so => (string?)so["spec"]?["scaleTargetRef"]?["name"] ?? "")))
        {
            yield return $"no ScaledObject scales '{app}'";
        }

        foreach (var so in scaled)
        {
            var target = (string?)so["spec"]?["scaleTargetRef"]?["name"] ?? "";
            var workload = objects.FirstOrDefault(o => o.IsWorkload() && o.Name() == target);
            var app = workload?.Annotation("dapr.io/app-id");
            if (app is null || !Contract.ScaledConsumers.TryGetValue(app, out var consumer))
            {
                yield return $"{so.Id()} scales '{target}', which is not a consumer KEDA should scale";
                continue;
            }

            foreach (var trigger in so["spec"]?["triggers"].Objects() ?? [])
            {
                var m = trigger["metadata"] as JsonObject ?? [];
                var (topic, group) = (string?)trigger["type"] switch
                {
                    "redis-streams" => ((string?)m["stream"], (string?)m["consumerGroup"]),
                    "kafka" => ((string?)m["topic"], (string?)m["consumerGroup"]),
                    "pulsar" => (((string?)m["topic"])?.Split('/').Last(), (string?)m["subscription"]),
                    _ => (null, null),
                };
                if (topic != consumer.Topic)
                {
                    yield return $"{so.Id()}: {trigger["type"]} trigger watches topic '{topic}', {app} reads '{consumer.Topic}'";
                }

                if (BrokerAddress(pubsub, (string?)trigger["type"]) is { } expected && ServerOf(Address(trigger)) != ServerOf(expected))
                {
                    yield return $"{so.Id()}: {trigger["type"]} trigger reads {Address(trigger)}, the pubsub component uses {expected}";
                }

                if ((string?)trigger["type"] == "pulsar" && PulsarTopicPrefix(pubsub) is { } prefix && ((string?)m["topic"])?.StartsWith(prefix, StringComparison.Ordinal) is not true)
                {
                    yield return $"{so.Id()}: pulsar trigger topic {m["topic"]} is not under the component's {prefix}";
                }

                if (group != app)
                {
                    yield return $"{so.Id()}: {trigger["type"]} trigger watches consumer group '{group}', Dapr's consumer id is the app-id '{app}'";
                }
            }
        }
    }

    private static string? Address(JsonObject trigger)
    {
        var m = trigger["metadata"];
        return (string?)m?["address"] ?? (string?)m?["bootstrapServers"] ?? (string?)m?["adminURL"];
    }

    private static string? BrokerAddress(JsonObject? pubsub, string? triggerType) => pubsub is null ? null : triggerType switch
    {
        "redis-streams" => pubsub.MetadataValue("redisHost"),
        "kafka" => pubsub.MetadataValue("brokers"),
        "pulsar" => pubsub.MetadataValue("host"),
        _ => null,
    };

    /// <summary>The server an address names: its host's first DNS label (a Service name), without scheme or port.</summary>
    private static string? ServerOf(string? address)
    {
        var host = address?.Split("://").Last().Split(',')[0].Split(':')[0].Split('/')[0];
        return host?.Split('.')[0];
    }

    private static string? PulsarTopicPrefix(JsonObject? pubsub) =>
        pubsub is null || (string?)pubsub["spec"]?["type"] != "pubsub.pulsar" ? null
        : $"{(pubsub.MetadataValue("persistent") == "false" ? "non-persistent" : "persistent")}://{pubsub.MetadataValue("tenant") ?? "public"}/{pubsub.MetadataValue("namespace") ?? "default"}/";

    /// <summary>
    /// The callee's Configuration lets in exactly its callers (Dapr applies access control in the called app's
    /// Configuration), its NetworkPolicy admits the same callers to daprd's internal port, and trust domain and
    /// sampling match components/*/configuration.yaml; a caller the local configuration denies is allowed nowhere.
    /// </summary>
    private static IEnumerable<string> AccessControl(Sources s, List<JsonObject> objects)
    {
        var configs = objects.OfKind("Configuration").ToDictionary(c => c.Name());
        var localConfigs = s.Components.Values.SelectMany(o => o.OfKind("Configuration")).ToList();
        foreach (var w in objects.Where(o => o.IsWorkload()))
        {
            var app = w.Annotation("dapr.io/app-id") ?? "";
            var expected = Contract.Invocations.GetValueOrDefault(app, []).Order().ToList();
            if (!configs.TryGetValue(w.Annotation("dapr.io/config") ?? "", out var config))
            {
                continue;
            }

            var acl = config["spec"]?["accessControl"];
            var allowed = acl?["policies"].Objects().Where(p => (string?)p["defaultAction"] == "allow").Select(p => (string)p["appId"]!).Order().ToList() ?? [];
            if ((string?)acl?["defaultAction"] != "deny" || !allowed.SequenceEqual(expected))
            {
                yield return $"{config.Id()} (config of {app}) lets in [{string.Join(", ", allowed)}] by default {(string?)acl?["defaultAction"]}; " +
                    $"{app} is invoked by [{string.Join(", ", expected)}] only";
            }

            var policy = objects.OfKind("NetworkPolicy").FirstOrDefault(p => (string?)p["spec"]?["podSelector"]?["matchLabels"]?["app.kubernetes.io/name"] == app);
            var admitted = policy?["spec"]?["ingress"].Objects()
                .Where(r => r["ports"].Objects().Any(p => p["port"]?.ToString() == "50002"))
                .SelectMany(r => r["from"].Objects().Select(f => (string?)f["podSelector"]?["matchLabels"]?["app.kubernetes.io/name"] ?? "<not a pod selector>"))
                .Where(a => !(a == app && Contract.ActorHosts.Contains(app)))
                .Order().ToList() ?? [];
            if (!admitted.SequenceEqual(expected))
            {
                yield return $"NetworkPolicy of {app} admits [{string.Join(", ", admitted)}] to daprd, {app} is invoked by [{string.Join(", ", expected)}]";
            }
        }

        foreach (var config in configs.Values)
        {
            // A policy matches callers by namespace too: it must be the one the callers are deployed to.
            var ns = (string?)config["metadata"]?["namespace"];
            foreach (var policy in config["spec"]?["accessControl"]?["policies"].Objects() ?? [])
            {
                if ((string?)policy["namespace"] != ns)
                {
                    yield return $"{config.Id()}: the policy for '{policy["appId"]}' names namespace '{policy["namespace"]}', the apps run in '{ns}'";
                }
            }

            foreach (var local in localConfigs)
            {
                if ((string?)config["spec"]?["accessControl"]?["trustDomain"] != (string?)local["spec"]?["accessControl"]?["trustDomain"])
                {
                    yield return $"{config.Id()}: trust domain differs from the local configuration's";
                }

                if ((string?)config["spec"]?["tracing"]?["samplingRate"] != (string?)local["spec"]?["tracing"]?["samplingRate"])
                {
                    yield return $"{config.Id()}: tracing samplingRate differs from the local configuration's";
                }
            }
        }

        var allowedAnywhere = configs.Values.SelectMany(c => c["spec"]?["accessControl"]?["policies"].Objects() ?? [])
            .Where(p => (string?)p["defaultAction"] == "allow").Select(p => (string)p["appId"]!).ToHashSet();
        foreach (var local in localConfigs)
        {
            var policies = local["spec"]?["accessControl"]?["policies"].Objects().ToList() ?? [];
            var localDefault = (string?)local["spec"]?["accessControl"]?["defaultAction"] ?? "allow";
            bool LocallyAllowed(string app) =>
                ((string?)policies.FirstOrDefault(p => (string?)p["appId"] == app)?["defaultAction"] ?? localDefault) == "allow";
            foreach (var caller in allowedAnywhere.Where(c => !LocallyAllowed(c)).Order())
            {
                yield return $"'{caller}' may invoke here but the local configuration does not let it";
            }
        }
    }
}
