using System.Diagnostics;
using System.Text.Json;

namespace Platform.Sidecar.Invocation;

/// <summary>One running sidecar of an app: where its HTTP API listens, and the actor types its app hosts (from <c>GET /dapr/config</c>).</summary>
public sealed record Replica(string AppId, string InstanceId, string HttpEndpoint, int ProcessId, IReadOnlyList<string>? ActorTypes = null);

/// <summary>
/// How sidecars find each other on one machine, in the role mDNS plays for self-hosted daprd: each sidecar
/// writes a small file <c>{folder}/{app-id}/{instance}.json</c> while it runs. That reaches sidecars in this
/// process and in other processes alike; entries of processes that died without cleaning up are ignored and
/// removed. Lookups are cached briefly; a sidecar in this process registering or leaving invalidates the cache
/// at once.
/// </summary>
public sealed class NameRegistry
{
    private static int _generation;

    private readonly string _folder;
    private readonly Dictionary<string, (long Loaded, int Generation, Replica[] Replicas)> _cache = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <exception cref="RegistryFolderException">the folder or its token is not this user's alone (see <see cref="PrivateFolder"/>)</exception>
    public NameRegistry(string folder)
    {
        _folder = folder;
        PrivateFolder.Ensure(folder);
        InternalToken = PrivateFolder.LoadOrCreateToken(Path.Combine(folder, ".internal-token"));
    }

    /// <summary>
    /// A secret shared by the sidecars of this registry: a call one sidecar forwards to another carries it, so the
    /// receiver can trust the caller's app-id (for access control) when it delivers the call to its own app. It
    /// opens nothing else: every other API still asks for <c>dapr-api-token</c>. daprd gets the same guarantee
    /// from mTLS on its internal gRPC API, which also serves only sidecar-to-sidecar calls.
    /// </summary>
    public string InternalToken { get; }

    /// <summary>The folder used when none is given: shared by every sidecar of this user on this machine.</summary>
    public static string DefaultFolder =>
        Environment.GetEnvironmentVariable("PLATFORM_SIDECAR_REGISTRY") is { Length: > 0 } f ? f : Path.Combine(Path.GetTempPath(), "platform-sidecars");

    private static readonly TimeSpan CacheFor = TimeSpan.FromMilliseconds(500);

    public IDisposable Register(Replica replica)
    {
        var dir = Path.Combine(_folder, Safe(replica.AppId));
        PrivateFolder.Create(dir);
        var file = Path.Combine(dir, replica.InstanceId + ".json");
        var temp = file + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(replica));
        File.Move(temp, file, overwrite: true);
        Interlocked.Increment(ref _generation);
        return new Registration(file);
    }

    /// <summary>Every live replica of <paramref name="appId"/>, in a stable order (so round-robin alternates).</summary>
    public Replica[] Resolve(string appId, bool fresh = false)
    {
        var now = Stopwatch.GetTimestamp();
        var generation = Volatile.Read(ref _generation);
        lock (_gate)
        {
            if (!fresh && _cache.TryGetValue(appId, out var hit) && hit.Generation == generation && Stopwatch.GetElapsedTime(hit.Loaded, now) < CacheFor)
            {
                return hit.Replicas;
            }
        }

        var replicas = Load(appId);
        lock (_gate)
        {
            _cache[appId] = (now, generation, replicas);
        }

        return replicas;
    }

    /// <summary>Every live replica of every app (actor placement looks across apps, as Dapr's placement tables do).</summary>
    public Replica[] ResolveAll(bool fresh = false)
    {
        if (!Directory.Exists(_folder))
        {
            return [];
        }

        return [.. Directory.EnumerateDirectories(_folder).SelectMany(d => Resolve(Path.GetFileName(d), fresh))];
    }

    private Replica[] Load(string appId)
    {
        var dir = Path.Combine(_folder, Safe(appId));
        if (!Directory.Exists(dir))
        {
            return [];
        }

        var result = new List<Replica>();
        foreach (var file in Directory.EnumerateFiles(dir, "*.json"))
        {
            Replica? r;
            try
            {
                r = JsonSerializer.Deserialize<Replica>(File.ReadAllText(file));
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                continue;
            }

            if (r is null)
            {
                continue;
            }

            if (!Alive(r.ProcessId))
            {
                TryDelete(file);
                continue;
            }

            result.Add(r);
        }

        return [.. result.OrderBy(r => r.InstanceId, StringComparer.Ordinal)];
    }

    private static bool Alive(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return true;
        }

        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string Safe(string appId) => string.Concat(appId.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Registration(string file) : IDisposable
    {
        public void Dispose()
        {
            TryDelete(file);
            Interlocked.Increment(ref _generation);
        }
    }
}
