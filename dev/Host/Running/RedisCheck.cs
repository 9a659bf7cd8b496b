using System.Globalization;
using System.Net.Sockets;
using YamlDotNet.RepresentationModel;

namespace Platform.Host.Running;

/// <summary>
/// Before anything starts: is the Redis the components point at reachable? A sidecar would otherwise fail
/// deep in start-up with a connection error; this says what to install and how to start it.
/// </summary>
internal static class RedisCheck
{
    public sealed record Endpoint(string Host, int Port, string File);

    /// <summary>Every <c>redisHost</c> in the component files of <paramref name="folder"/>.</summary>
    public static IReadOnlyList<Endpoint> Find(string folder)
    {
        var result = new List<Endpoint>();
        foreach (var file in Directory.EnumerateFiles(folder, "*.y*ml").Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(File.ReadAllText(file)));
            }
            catch (YamlDotNet.Core.YamlException)
            {
                continue; // The sidecar reports bad YAML with its position; not this check's business.
            }

            foreach (var doc in stream.Documents)
            {
                var metadata = ((doc.RootNode as YamlMappingNode)?.Get("spec") as YamlMappingNode)?.Get("metadata") as YamlSequenceNode;
                foreach (var item in metadata?.Children.OfType<YamlMappingNode>() ?? [])
                {
                    if ((item.Get("name") as YamlScalarNode)?.Value == "redisHost"
                        && (item.Get("value") as YamlScalarNode)?.Value is { Length: > 0 } value)
                    {
                        var colon = value.LastIndexOf(':');
                        var port = colon > 0 && int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : 6379;
                        result.Add(new Endpoint(colon > 0 ? value[..colon] : value, port, file));
                    }
                }
            }
        }

        return result;
    }

    public static async Task<bool> ReachableAsync(Endpoint endpoint)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(endpoint.Host, endpoint.Port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    public static IEnumerable<string> HowToStart(Endpoint endpoint, string componentsFolder) =>
    [
        $"Redis is not reachable at {endpoint.Host}:{endpoint.Port} ({Path.GetFileName(endpoint.File)} in {componentsFolder} uses it).",
        "Install and start it:",
        "    sudo apt-get install -y redis-server",
        "    redis-server --daemonize yes",
        "or run on in-memory components, which need no server: leave out --components (or --components local)",
    ];
}

internal static class YamlMappingExtensions
{
    public static YamlNode? Get(this YamlMappingNode node, string key) =>
        node.Children.FirstOrDefault(c => c.Key is YamlScalarNode { Value: { } k } && k == key).Value;
}
