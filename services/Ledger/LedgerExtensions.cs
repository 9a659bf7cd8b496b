using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Ledger.Accounts;
using Platform.Ledger.Transfers;

namespace Platform.Ledger;

public static class LedgerExtensions
{
    public static readonly ActivitySource Activity = new(LedgerNames.Service);
    public static readonly Meter Meter = new(LedgerNames.Service);

    public static WebApplicationBuilder AddLedger(this WebApplicationBuilder builder)
    {
        builder.Services.Configure<LedgerOptions>(builder.Configuration.GetSection("Ledger"));
        // A command is a few hundred bytes: anything much larger is refused (413) before it is read.
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 256 * 1024);
        builder.Services.AddActors(o =>
        {
            // Each account is an actor: the sidecar runs one call at a time per account, so a balance check and
            // the write that follows can never interleave with another command on the same account.
            o.Actors.RegisterActor<AccountActor>();
            o.Actors.RegisterActor<TransferActor>();
            o.Actors.RegisterActor<AccountDirectoryActor>();
            o.UseJsonSerialization = true;
            // The actor API is a door too: a number sent as a string is refused there as it is by the HTTP API.
            o.JsonSerializerOptions = new JsonSerializerOptions(JsonSerializerDefaults.Web) { NumberHandling = JsonNumberHandling.Strict };
            o.ActorIdleTimeout = TimeSpan.FromMinutes(10);
            if (builder.Configuration["DAPR_HTTP_ENDPOINT"] is { Length: > 0 } endpoint)
            {
                o.HttpEndpoint = endpoint;
            }
        });
        return builder;
    }
}

/// <summary>Business limits, from configuration section <c>Ledger</c>.</summary>
public sealed class LedgerOptions
{
    /// <summary>The largest amount one command may move.</summary>
    public decimal MaxAmount { get; set; } = 1_000_000m;

    /// <summary>
    /// Fault injection for the crash tests (<c>Ledger__KillAfterStoring</c>): the process SIGKILLs itself right after
    /// storing a command with this reference, before publishing its event. Unset in every real deployment.
    /// </summary>
    public string? KillAfterStoring { get; set; }
}
