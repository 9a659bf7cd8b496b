using Xunit.Abstractions;

namespace Platform.EndToEnd.Tests;

/// <summary>SIGKILL during a run: the read model converges to the same figures, and no money is created or destroyed.</summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task BalancesKilledThreeTimesDuringARun_ReadModelConvergesToTheLedger()
    {
        await using var platform = await PlatformUnderTest.StartAsync(new PlatformOptions());
        var ledger = platform.Invoke("ledger");
        var accounts = await LedgerWorkload.OpenAccountsAsync(ledger, 100, 1_000m, "bk");
        var workload = new LedgerWorkload(ledger, accounts, seed: 2);
        const int commands = 3_000;

        var clock = Stopwatch.StartNew();
        var run = workload.RunAsync(commands, clients: 32);
        foreach (var at in new[] { 750, 1_500, 2_250 })
        {
            await Poll.UntilAsync(() => Task.FromResult(workload.Completed >= at || run.IsCompleted), $"{at} commands answered", seconds: 120);
            Assert.False(run.IsCompleted, "the run ended before Balances could be killed in the middle of it");
            await platform.Balances!.KillAsync();
            output.WriteLine($"killed Balances after {workload.Completed} commands ({clock.Elapsed.TotalSeconds:0.0} s)");
            await platform.Balances.StartAsync();
        }

        var result = await run;
        Assert.Empty(result.Unexpected);
        Assert.Equal(commands, result.Accepted + result.Refused);
        Assert.Equal(4, platform.Balances!.Starts);

        await Consistency.AssertConvergedAsync(platform, accounts);
        output.WriteLine($"{commands} commands with 3 kills of Balances; converged and checked after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task LedgerKilledMidTransfer_MoneyIsConservedAndEveryTransferEnds()
    {
        await using var platform = await PlatformUnderTest.StartAsync(new PlatformOptions());
        var ledger = platform.Invoke("ledger");
        var accounts = await LedgerWorkload.OpenAccountsAsync(ledger, 20, 1_000m, "lk");
        const decimal total = 20 * 1_000m;
        var workload = new LedgerWorkload(ledger, accounts, seed: 3);

        // 32 clients sending transfers; once 300 have been answered the ledger is killed with 32 in flight, and no new ones are sent.
        var run = workload.RunAsync(commands: 2_000, clients: 32, transfersOnly: true, inDoubt: InDoubt.Record);
        await Poll.UntilAsync(() => Task.FromResult(workload.Completed >= 300), "300 transfers answered", seconds: 120);
        await platform.Ledger.KillAsync();
        workload.Stop();
        var result = await run;
        Assert.Empty(result.Unexpected);
        Assert.NotEmpty(result.InDoubt);
        output.WriteLine($"killed the ledger after {result.Accepted + result.Refused} answered transfers; {result.InDoubt.Count} in doubt");

        // Nobody resends anything: the restarted ledger finishes what was in flight by itself (transfer and outbox reminders).
        await platform.Ledger.StartAsync();
        await Poll.UntilAsync(
            async () => (decimal?)(await Task.WhenAll(accounts.Select(a => Consistency.LedgerAccountAsync(platform, a)))).Sum(a => a.Balance),
            sum => sum == total, $"the sum of balances to come back to {total}", seconds: 90);

        // A client that got no answer sends the same transfer again: it gets the transfer's final state, and money is still conserved.
        foreach (var (path, body) in result.InDoubt)
        {
            using var again = await ledger.PostAsJsonAsync(path, body);
            var text = await again.Content.ReadAsStringAsync();
            Assert.True(again.IsSuccessStatusCode || (again.StatusCode == System.Net.HttpStatusCode.Conflict && LedgerWorkload.IsCleanProblem(again, text, out _)),
                $"in-doubt transfer sent again: {(int)again.StatusCode} {text}");
            if (again.IsSuccessStatusCode)
            {
                Assert.Contains(System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("status").GetString(), new[] { "completed", "compensated" });
            }
        }

        var balances = await Task.WhenAll(accounts.Select(a => Consistency.LedgerAccountAsync(platform, a)));
        Assert.Equal(total, balances.Sum(a => a.Balance));
        Assert.All(balances, a => Assert.True(a.Balance >= 0, $"{a.AccountId} overdrawn: {a.Balance}"));

        // And the read model, fed by the outbox across the crash, agrees event by event.
        await Consistency.AssertConvergedAsync(platform, accounts);
        Assert.Equal(total, (await Consistency.BalancesTotalsAsync(platform)).TotalBalance);
    }

    [Fact]
    public async Task LedgerKilledBetweenStoringAndPublishing_TheEventIsPublishedAfterRestart()
    {
        // The ledger kills itself (SIGKILL) right after the transaction that stores this command, before it publishes.
        const string crashAt = "crash-between-store-and-publish";
        await using var platform = await PlatformUnderTest.StartAsync(new PlatformOptions
        {
            LedgerEnvironment = new Dictionary<string, string> { ["Ledger__KillAfterStoring"] = crashAt },
        });
        var ledger = platform.Invoke("ledger");
        var account = (await LedgerWorkload.OpenAccountsAsync(ledger, 1, 100m, "kp"))[0];
        await Poll.UntilAsync(() => Task.FromResult(platform.FirstDelivered.ContainsKey((account, 2))), "the first two events delivered");

        using (var crashed = await ledger.PostAsJsonAsync($"accounts/{account}/deposits", new { amount = 7m, reference = crashAt }))
        {
            Assert.False(crashed.IsSuccessStatusCode, "the command that kills the ledger got an answer");
        }

        await Poll.UntilAsync(() => Task.FromResult(platform.Ledger.HasExited), "the ledger to have killed itself");
        Assert.False(platform.FirstDelivered.ContainsKey((account, 3)), "the event was published before the crash");

        // Nobody touches the account: the restarted ledger publishes the stored event by itself.
        await platform.Ledger.StartAsync();
        await Poll.UntilAsync(() => Task.FromResult(platform.FirstDelivered.ContainsKey((account, 3))), "event 3 published after the restart", seconds: 60);
        var delivered = platform.LedgerDeliveries.First(e => e.GetProperty("accountId").GetString() == account && e.GetProperty("sequence").GetInt64() == 3);
        Assert.Equal(crashAt, delivered.GetProperty("reference").GetString());
        Assert.Equal(7m, delivered.GetProperty("amount").GetDecimal());

        // It was stored once: the client's retry gets the first outcome, and the read model agrees with the ledger.
        using var again = await ledger.PostAsJsonAsync($"accounts/{account}/deposits", new { amount = 7m, reference = crashAt });
        Assert.True(again.IsSuccessStatusCode, await again.Content.ReadAsStringAsync());
        Assert.Equal(107m, (await Consistency.LedgerAccountAsync(platform, account)).Balance);
        Assert.Equal(3, (await Consistency.LedgerEventsAsync(platform, account)).Count);
        await Consistency.AssertConvergedAsync(platform, [account]);
    }
}
