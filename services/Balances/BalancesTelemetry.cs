using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Platform.Balances;

/// <summary>The service's one ActivitySource and one Meter, both named after it.</summary>
public sealed class BalancesTelemetry
{
    public const string ServiceName = "balances";

    public static readonly ActivitySource ActivitySource = new(ServiceName);

    // From IMeterFactory rather than a static Meter: each host (and each replica a test starts in one process)
    // gets its own instruments, so one replica's counts can be read apart from another's.
    public BalancesTelemetry(IMeterFactory meters)
    {
        var meter = meters.Create(ServiceName);
        Deliveries = meter.CreateCounter<long>("balances.deliveries", description: "Ledger events answered, by status (SUCCESS, RETRY, DROP)");
        Applied = meter.CreateCounter<long>("balances.events.applied", description: "Ledger events applied to the read model, by generation");
        Duplicates = meter.CreateCounter<long>("balances.events.duplicate", description: "Deliveries of events the read model already had");
        Ignored = meter.CreateCounter<long>("balances.events.ignored", description: "Events of unknown kinds (or without a usable amount): their sequence is taken, nothing else changes");
        GapsHealed = meter.CreateCounter<long>("balances.gaps.healed", description: "Deliveries that found missing sequences and fetched them from the ledger");
        Conflicts = meter.CreateCounter<long>("balances.etag.conflicts", description: "State transactions refused because another consumer wrote first");
        Rebuilds = meter.CreateCounter<long>("balances.rebuilds", description: "Rebuilds of the read model, by result");
    }

    public Counter<long> Deliveries { get; }

    public Counter<long> Applied { get; }

    public Counter<long> Duplicates { get; }

    public Counter<long> Ignored { get; }

    public Counter<long> GapsHealed { get; }

    public Counter<long> Conflicts { get; }

    public Counter<long> Rebuilds { get; }
}
