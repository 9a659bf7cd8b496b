using Platform.Balances;
using Platform.Balances.Accounts;
using Platform.Balances.Ledger;
using Platform.Balances.Rebuild;
using Platform.Balances.Totals;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults(BalancesTelemetry.ServiceName);
builder.AddBalances();

var app = builder.Build();
app.MapDefaultEndpoints();

// Dapr delivers the ledger stream as CloudEvents: unwrap them, and tell the sidecar what we subscribe to.
app.UseUnreadableDeliveriesDropped();
app.UseCloudEvents();
app.MapSubscribeHandler();

app.MapLedgerEventsApi();
app.MapAccountsApi();
app.MapTotalsApi();
app.MapRebuildApi();

app.Run();
