using Xunit.Abstractions;

namespace Platform.EndToEnd.Tests;

/// <summary>Issue #4's "must show": the stream is the system of record, and every view of it agrees, also across crashes.</summary>
public sealed class LedgerLoadTests(ITestOutputHelper output)
{
    private const int Accounts = 100;
    private const int Clients = 32;

    [Fact]
    public async Task TenThousandCommands_From32Clients_ActorReadModelAndStreamAgree()
    {
        await using var platform = await PlatformUnderTest.StartAsync(new PlatformOptions());
        var ledger = platform.Invoke("ledger");
        var accounts = await LedgerWorkload.OpenAccountsAsync(ledger, Accounts, 1_000m, "load");

        var clock = Stopwatch.StartNew();
        var result = await new LedgerWorkload(ledger, accounts, seed: 1).RunAsync(commands: 10_000, Clients);
        var sending = clock.Elapsed;
        Assert.Empty(result.Unexpected);
        Assert.Equal(10_000, result.Accepted + result.Refused);
        Assert.True(result.RefusalsByRule.GetValueOrDefault("insufficient-funds") > 0, "the workload is meant to overdraw sometimes");
        Assert.Equal(["insufficient-funds"], result.RefusalsByRule.Keys);

        await Consistency.AssertConvergedAsync(platform, accounts);
        output.WriteLine($"10,000 commands ({result.Accepted} accepted, {result.Refused} refused with 409) in {sending.TotalSeconds:0.0} s; converged and checked after {clock.Elapsed.TotalSeconds:0.0} s");
    }
}
