using System.Globalization;
using Platform.Sidecar.Resources;
using StackExchange.Redis;

namespace Platform.Sidecar;

/// <summary>Connects to the Redis a component names, with the metadata names Dapr's Redis components use.</summary>
internal static class RedisConnections
{
    public static async Task<(ConnectionMultiplexer Connection, int Database)> ConnectAsync(ComponentResource c, string clientName, TextWriter? log = null,
        Action<ConfigurationOptions>? configure = null)
    {
        var options = Options(c, clientName, out var database);
        configure?.Invoke(options);
        try
        {
            return (await ConnectionMultiplexer.ConnectAsync(options, log), database);
        }
        catch (RedisConnectionException e)
        {
            throw new ResourceException(c.File, "spec.metadata[redisHost]",
                $"component '{c.Name}' cannot reach Redis at {c.Get("redisHost")} ({e.Message.Split('\n')[0]}). "
                + "Start a server (redis-server --port <port>) or install one (apt-get install -y redis-server), or use components/local.");
        }
    }

    public static ConfigurationOptions Options(ComponentResource c, string clientName, out int database)
    {
        var host = c.Get("redisHost")!;
        var options = ConfigurationOptions.Parse(c.Get("redisPort") is { } port && !host.Contains(':', StringComparison.Ordinal) ? $"{host}:{port}" : host);
        options.ClientName = clientName;
        options.Password = c.Get("redisPassword");
        options.User = c.Get("redisUsername");
        options.Ssl = string.Equals(c.Get("enableTLS"), "true", StringComparison.OrdinalIgnoreCase);
        options.ConnectTimeout = 5000;
        options.AbortOnConnectFail = true;
        // Socket I/O on the .NET thread pool rather than on the client's own dedicated threads: the sidecar is
        // async throughout, and on a small machine the hand-off from those threads to the pool per reply (a
        // thread wake-up and a context switch each time) was a large part of the CPU a publish costs.
        options.SocketManager = SocketManager.ThreadPool;
        // Reconnect forever once running: a restarted Redis must not take the sidecar down.
        options.ReconnectRetryPolicy = new LinearRetry(250);
        database = 0;
        if (c.Get("redisDB") is { } db && !int.TryParse(db, NumberStyles.Integer, CultureInfo.InvariantCulture, out database))
        {
            throw new ResourceException(c.File, "spec.metadata[redisDB]", $"'{db}' is not a database number");
        }

        return options;
    }
}
