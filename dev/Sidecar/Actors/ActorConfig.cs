using System.Text.Json;

namespace Platform.Sidecar.Actors;

/// <summary>The settings in effect for one hosted actor type (the app's global ones, overridden by its <c>entitiesConfig</c> entry).</summary>
public sealed record ActorTypeConfig(
    string Type,
    TimeSpan IdleTimeout,
    TimeSpan ScanInterval,
    TimeSpan DrainOngoingCallTimeout,
    bool DrainRebalancedActors,
    bool Reentrancy,
    int MaxStackDepth)
{
    /// <summary>daprd's defaults (dapr/dapr <c>pkg/actors/api/config.go</c>): idle 60 min, scan 30 s, drain 60 s, stack depth 32.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromMinutes(60);

    public static readonly TimeSpan DefaultScanInterval = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromSeconds(60);

    public const int DefaultMaxStackDepth = 32;
}

/// <summary>What the app answered to <c>GET /dapr/config</c>: the actor types it hosts and their settings.</summary>
public sealed class ActorAppConfig
{
    public static readonly ActorAppConfig None = new(new Dictionary<string, ActorTypeConfig>(StringComparer.Ordinal));

    private ActorAppConfig(IReadOnlyDictionary<string, ActorTypeConfig> types) => Types = types;

    /// <summary>Hosted actor types by name.</summary>
    public IReadOnlyDictionary<string, ActorTypeConfig> Types { get; }

    /// <summary>
    /// Reads the body the .NET SDK (<c>ActorRuntime.SerializeSettingsAndRegisteredTypes</c>) and the other SDKs write:
    /// <c>{"entities":[..],"actorIdleTimeout":"1h0m0s0ms",...,"reentrancy":{"enabled":..,"maxStackDepth":..},"entitiesConfig":[{"entities":[..],...}]}</c>.
    /// Durations are Go durations; a value that cannot be read keeps the default, as daprd does.
    /// </summary>
    public static ActorAppConfig Parse(ReadOnlySpan<byte> body)
    {
        using var doc = JsonDocument.Parse(body.ToArray());
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return None;
        }

        var global = new ActorTypeConfig("", ActorTypeConfig.DefaultIdleTimeout, ActorTypeConfig.DefaultScanInterval,
            ActorTypeConfig.DefaultDrainTimeout, false, false, ActorTypeConfig.DefaultMaxStackDepth);
        global = Apply(global, root);

        var types = new Dictionary<string, ActorTypeConfig>(StringComparer.Ordinal);
        foreach (var name in Strings(root, "entities"))
        {
            types[name] = global with { Type = name };
        }

        if (Property(root, "entitiesConfig") is { ValueKind: JsonValueKind.Array } configs)
        {
            foreach (var entry in configs.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                foreach (var name in Strings(entry, "entities"))
                {
                    // daprd only applies entitiesConfig to types the app also lists in "entities".
                    if (types.TryGetValue(name, out var current))
                    {
                        types[name] = Apply(current, entry);
                    }
                }
            }
        }

        return new ActorAppConfig(types);
    }

    private static ActorTypeConfig Apply(ActorTypeConfig c, JsonElement e)
    {
        if (Duration(e, "actorIdleTimeout") is { } idle)
        {
            c = c with { IdleTimeout = idle };
        }

        if (Duration(e, "actorScanInterval") is { } scan)
        {
            c = c with { ScanInterval = scan };
        }

        if (Duration(e, "drainOngoingCallTimeout") is { } drain)
        {
            c = c with { DrainOngoingCallTimeout = drain };
        }

        if (Property(e, "drainRebalancedActors") is { ValueKind: JsonValueKind.True or JsonValueKind.False } rebalance)
        {
            c = c with { DrainRebalancedActors = rebalance.GetBoolean() };
        }

        if (Property(e, "reentrancy") is { ValueKind: JsonValueKind.Object } reentrancy)
        {
            if (Property(reentrancy, "enabled") is { ValueKind: JsonValueKind.True or JsonValueKind.False } enabled)
            {
                c = c with { Reentrancy = enabled.GetBoolean() };
            }

            if (Property(reentrancy, "maxStackDepth") is { ValueKind: JsonValueKind.Number } depth && depth.TryGetInt32(out var d) && d > 0)
            {
                c = c with { MaxStackDepth = d };
            }
        }

        return c;
    }

    private static TimeSpan? Duration(JsonElement e, string name) =>
        Property(e, name) is { ValueKind: JsonValueKind.String } v && ActorSchedule.TryParseGoDuration(v.GetString()!, out var d) && d > TimeSpan.Zero ? d : null;

    private static IEnumerable<string> Strings(JsonElement e, string name) =>
        Property(e, name) is { ValueKind: JsonValueKind.Array } a
            ? a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String && x.GetString()!.Length > 0).Select(x => x.GetString()!).ToList()
            : [];

    private static JsonElement? Property(JsonElement e, string name)
    {
        foreach (var p in e.EnumerateObject())
        {
            if (p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return p.Value;
            }
        }

        return null;
    }
}
