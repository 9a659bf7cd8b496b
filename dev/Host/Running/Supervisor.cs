using System.Globalization;
using Microsoft.Extensions.Logging;
using Platform.Host.Topology;
using Platform.Sidecar;
using Platform.Sidecar.Resources;

namespace Platform.Host.Running;

/// <summary>One service ready to run: what to start, how many, and with which sidecar settings.</summary>
internal sealed record ServicePlan(TyeService Service, int ColorCode, DaprRun? Dapr, string FileName, IReadOnlyList<string> Args, string WorkingDirectory);

/// <summary>
/// Runs the platform: a sidecar per replica in this process (all on one registry folder, so they find each
/// other and share the in-memory bus), then every replica's process; a status table on every change; and on
/// Ctrl+C, SIGTERM or a start-up failure, everything stopped in order — apps first (SIGTERM, then kill after the
/// timeout), then sidecars — so nothing is left running.
/// </summary>
internal sealed class Supervisor(Terminal terminal, string registryFolder, TimeSpan stopTimeout)
{
    private readonly List<ReplicaRunner> _replicas = [];
    private readonly List<(Sidecar.SidecarHost Sidecar, ILoggerFactory Logs)> _sidecars = [];
    private readonly TaskCompletionSource<(ReplicaRunner Replica, string Reason)> _fatal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _changed = new(0);
    private readonly FreePorts _ports = new();

    public async Task<int> RunAsync(IReadOnlyList<ServicePlan> plans, CancellationToken stop, CancellationToken hurry)
    {
        using var printing = new CancellationTokenSource();
        var printer = Task.CompletedTask;
        var exitCode = 0;
        try
        {
            foreach (var plan in plans)
            {
                for (var index = 1; index <= plan.Service.Replicas; index++)
                {
                    _replicas.Add(await PrepareAsync(plan, index, stop));
                }
            }

            terminal.Host("status:");
            terminal.Block(StatusTable.Render(_replicas));
            printer = PrintChangesAsync(plans, printing.Token);
            _ports.ReleaseAll();
            foreach (var replica in _replicas)
            {
                replica.Start();
            }

            var stopped = Task.Delay(Timeout.Infinite, stop);
            if (await Task.WhenAny(_fatal.Task, stopped) == _fatal.Task)
            {
                await printing.CancelAsync();
                await printer;
                var (replica, reason) = await _fatal.Task;
                terminal.Host($"{reason}; stopping everything. Last output of {replica.Name}:");
                var lines = replica.LastLines;
                terminal.Block(lines.Count == 0 ? ["    (no output)"] : lines.Select(l => "    | " + l));
                exitCode = 1;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Ctrl+C while sidecars were starting.
        }
        catch (SidecarFailedException e)
        {
            terminal.Host(e.Message);
            exitCode = 1;
        }
        finally
        {
            _ports.Dispose();
            await printing.CancelAsync();
            await printer;
            await StopAllAsync(hurry);
            if (_replicas.Count > 0)
            {
                terminal.Host("status:");
                terminal.Block(StatusTable.Render(_replicas));
            }

            terminal.Host($"stopped {_replicas.Count} app process(es) and {_sidecars.Count} sidecar(s)");
        }

        return exitCode;
    }

    private async Task<ReplicaRunner> PrepareAsync(ServicePlan plan, int index, CancellationToken stop)
    {
        var service = plan.Service;
        var name = $"{service.Name}-{index}";
        int? appPort = service.ListensForHttp ? _ports.Reserve() : null;
        Sidecar.SidecarHost? sidecar = null;
        if (plan.Dapr is { } dapr)
        {
            var level = dapr.LogLevel switch
            {
                "debug" => LogLevel.Debug,
                "warn" => LogLevel.Warning,
                "error" => LogLevel.Error,
                _ => LogLevel.Information,
            };
            // The sidecar's own log at the asked level; ASP.NET Core's inside it (Kestrel, hosting) only when it warns.
            var logs = LoggerFactory.Create(b => b
                .AddProvider(new TerminalLoggerProvider(terminal, $"{name} dapr", plan.ColorCode, level))
                .SetMinimumLevel(level)
                .AddFilter((category, l) => l >= (category?.StartsWith("sidecar.", StringComparison.Ordinal) == true ? level : LogLevel.Warning)));
            try
            {
                // Started before the app, with free ports, so the app's DAPR_HTTP_PORT is known; it waits for the app's port.
                sidecar = await Sidecar.SidecarHost.StartAsync(new SidecarOptions
                {
                    AppId = dapr.AppId,
                    AppPort = appPort,
                    ResourcesPaths = dapr.ComponentsPath is null ? [] : [dapr.ComponentsPath],
                    AppMaxConcurrency = dapr.AppMaxConcurrency ?? -1,
                    ConfigPath = dapr.ConfigPath,
                    RegistryFolder = registryFolder,
                    // {podName} in a consumerID: the replica's name, as a StatefulSet pod's.
                    PodName = name,
                    LoggerFactory = logs,
                }, stop);
            }
            catch (Exception e) when (e is ResourceException or InvalidOperationException)
            {
                // A component file it cannot use (named with its field), or a port it cannot listen on.
                logs.Dispose();
                throw new SidecarFailedException($"the sidecar of {name} cannot start: {e.Message}", e);
            }
            catch
            {
                logs.Dispose();
                throw;
            }

            _sidecars.Add((sidecar, logs));
        }

        var env = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            // One line per log entry reads better behind a [name] prefix; a service's own env can say otherwise.
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
        };
        foreach (var (key, value) in service.Env)
        {
            env[key] = value;
        }

        // What the host decides wins over the file: ports and identities.
        env["APP_ID"] = plan.Dapr?.AppId ?? service.Name;
        env["APP_INSTANCE"] = name;
        var port = appPort?.ToString(CultureInfo.InvariantCulture);
        env["APP_PORT"] = port;
        env["PORT"] = port;
        env["ASPNETCORE_URLS"] = appPort is null ? null : $"http://127.0.0.1:{port}";
        env["DAPR_HTTP_PORT"] = sidecar?.HttpPort.ToString(CultureInfo.InvariantCulture);
        env["DAPR_GRPC_PORT"] = sidecar?.GrpcPort.ToString(CultureInfo.InvariantCulture);
        // The SDKs prefer *_ENDPOINT over *_PORT: set them too, so a value in the developer's shell cannot win.
        env["DAPR_HTTP_ENDPOINT"] = sidecar?.HttpEndpoint;
        env["DAPR_GRPC_ENDPOINT"] = sidecar?.GrpcEndpoint;

        var launch = new Launch(plan.FileName, plan.Args, plan.WorkingDirectory, env);
        return new ReplicaRunner(service.Name, index, plan.ColorCode, appPort, sidecar, launch, terminal, () => _changed.Release(), (r, reason) => _fatal.TrySetResult((r, reason)));
    }

    private async Task PrintChangesAsync(IReadOnlyList<ServicePlan> plans, CancellationToken ct)
    {
        var last = "";
        var announcedReady = false;
        var announcedDashboard = false;
        var dashboard = DashboardReplica(plans);
        try
        {
            while (true)
            {
                await _changed.WaitAsync(ct);

                // Changes come in bursts (every replica of a service comes up at once): one table per burst.
                await Task.Delay(150, ct);
                while (_changed.CurrentCount > 0)
                {
                    await _changed.WaitAsync(ct);
                }

                var table = StatusTable.Render(_replicas);
                var text = string.Join('\n', table);
                if (text != last)
                {
                    last = text;
                    terminal.Host("status:");
                    terminal.Block(table);
                }

                if (!announcedReady && _replicas.All(r => r.State == ReplicaState.Up))
                {
                    announcedReady = true;
                    var example = _replicas.FirstOrDefault(r => r.Sidecar is not null);
                    terminal.Host($"ready: {_replicas.Count} replica(s) of {plans.Count(p => p.Service.Replicas > 0)} service(s) up");
                    if (example?.Sidecar is { } sidecar)
                    {
                        terminal.Host($"call a service through any sidecar: curl {sidecar.HttpEndpoint}/v1.0/invoke/{sidecar.AppId}/method/<path>");
                    }

                    terminal.Host("Ctrl+C stops everything");
                }

                if (!announcedDashboard && dashboard is not null && dashboard.State == ReplicaState.Up)
                {
                    announcedDashboard = true;
                    terminal.Host($"dashboard: http://127.0.0.1:{dashboard.AppPort}/");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Where the dashboard is: the first replica of the service with a binding named <c>dashboard</c>, else of
    /// the service named <c>live</c> (the platform's web front end).
    /// </summary>
    private ReplicaRunner? DashboardReplica(IReadOnlyList<ServicePlan> plans)
    {
        var service = plans.FirstOrDefault(p => p.Service.Bindings.Any(b => b.Name == "dashboard"))?.Service
            ?? plans.FirstOrDefault(p => p.Service.Name == "live")?.Service;
        return service is null ? null : _replicas.FirstOrDefault(r => r.Service == service.Name && r.AppPort is not null);
    }

    private async Task StopAllAsync(CancellationToken hurry)
    {
        if (_replicas.Count + _sidecars.Count == 0)
        {
            return;
        }

        terminal.Host("stopping: apps first, then sidecars");
        await Task.WhenAll(_replicas.Select(r => r.StopAsync(stopTimeout, hurry)));
        foreach (var (sidecar, logs) in _sidecars)
        {
            await sidecar.DisposeAsync();
            logs.Dispose();
        }
    }
}

internal sealed class SidecarFailedException(string message, Exception inner) : Exception(message, inner);
