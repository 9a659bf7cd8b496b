using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Platform.Balances.Tests.Infrastructure;

/// <summary>
/// Reads one Balances host's own counters (its Meter comes from that host's IMeterFactory, so replicas in this
/// process, and other tests running in parallel, are told apart).
/// </summary>
public sealed class DeliveryMeter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public DeliveryMeter(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Meter.Name == BalancesTelemetry.ServiceName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            _counts.AddOrUpdate(instrument.Name, value, (_, c) => c + value);
            foreach (var tag in tags)
            {
                if (tag.Key == "status")
                {
                    _counts.AddOrUpdate($"{instrument.Name}/{tag.Value}", value, (_, c) => c + value);
                }
            }
        });
        _listener.Start();
    }

    /// <summary>Deliveries answered with <paramref name="status"/> (SUCCESS, RETRY, DROP).</summary>
    public long Deliveries(string status) => _counts.GetValueOrDefault($"balances.deliveries/{status}");

    public long Count(string instrument) => _counts.GetValueOrDefault(instrument);

    public void Dispose() => _listener.Dispose();
}
