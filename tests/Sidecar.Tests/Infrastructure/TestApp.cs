using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Platform.Sidecar.Tests.Infrastructure;

/// <summary>A real ASP.NET Core app (with Dapr.AspNetCore's CloudEvents and subscribe handler) on a free loopback port.</summary>
public sealed class TestApp : IAsyncDisposable
{
    private WebApplication? _app;

    private TestApp(string name) => Name = name;

    public string Name { get; }

    public int Port { get; private set; }

    /// <summary>Whatever the app's handlers record (event ids, replica names...).</summary>
    public ConcurrentQueue<string> Received { get; } = new();

    /// <param name="dapr">false for an app that speaks to the sidecar by hand (its own /dapr/subscribe, raw envelopes)</param>
    /// <param name="http2Only">serve cleartext HTTP/2 only (for <c>--app-protocol h2c</c>)</param>
    public static async Task<TestApp> StartAsync(string name, Action<WebApplication, TestApp> map, bool dapr = true, bool http2Only = false)
    {
        var self = new TestApp(name);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        if (http2Only)
        {
            builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2));
        }

        builder.Logging.ClearProviders();
        builder.Services.AddDaprClient();
        var web = builder.Build();
        if (dapr)
        {
            web.UseCloudEvents();
            web.MapSubscribeHandler();
        }

        map(web, self);
        await web.StartAsync();
        self._app = web;
        self.Port = new Uri(web.Urls.First()).Port;
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
