using Platform.Ledger;
using Platform.Ledger.Accounts;
using Platform.Ledger.Transfers;
using Platform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults(LedgerNames.Service);
builder.AddLedger();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapActorsHandlers();
app.MapAccountsApi();
app.MapTransfersApi();
app.Run();

/// <summary>The entry point, visible to the tests that host the service in-process.</summary>
public partial class Program;
