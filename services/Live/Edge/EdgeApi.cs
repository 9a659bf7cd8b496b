namespace Platform.Live.Edge;

/// <summary>
/// The page's commands, forwarded by invocation through our sidecar to <c>ledger</c> and <c>routing</c>. The body
/// goes as sent and the answer comes back as given — status, content type and body — so the page shows their
/// ProblemDetails unchanged; those services validate, this edge does not second-guess them.
/// </summary>
public static class EdgeApi
{
    public static IEndpointRouteBuilder MapEdgeApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").WithTags("Commands");
        api.MapPost("/accounts", (HttpContext c, IHttpClientFactory f) => ForwardAsync(c, f, Components.LedgerAppId, "accounts"));
        api.MapPost("/accounts/{accountId}/deposits", (string accountId, HttpContext c, IHttpClientFactory f) =>
            ForwardAsync(c, f, Components.LedgerAppId, $"accounts/{Uri.EscapeDataString(accountId)}/deposits"));
        api.MapPost("/accounts/{accountId}/withdrawals", (string accountId, HttpContext c, IHttpClientFactory f) =>
            ForwardAsync(c, f, Components.LedgerAppId, $"accounts/{Uri.EscapeDataString(accountId)}/withdrawals"));
        api.MapPost("/transfers", (HttpContext c, IHttpClientFactory f) => ForwardAsync(c, f, Components.LedgerAppId, "transfers"));
        api.MapPost("/jobs", (HttpContext c, IHttpClientFactory f) => ForwardAsync(c, f, Components.RoutingAppId, "jobs"));
        api.MapPost("/jobs/{jobId}/cancel", (string jobId, HttpContext c, IHttpClientFactory f) =>
            ForwardAsync(c, f, Components.RoutingAppId, $"jobs/{Uri.EscapeDataString(jobId)}/cancel"));
        return app;
    }

    private static async Task ForwardAsync(HttpContext context, IHttpClientFactory factory, string appId, string path)
    {
        using var client = factory.CreateClient(appId);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StreamContent(context.Request.Body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType ?? "application/json");
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (HttpRequestException e)
        {
            await TypedResults.Problem(statusCode: StatusCodes.Status502BadGateway, title: $"{appId} could not be reached", detail: e.Message,
                extensions: new Dictionary<string, object?> { ["code"] = "upstream-unreachable" }).ExecuteAsync(context);
            return;
        }

        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            if (response.Content.Headers.ContentType is { } type)
            {
                context.Response.ContentType = type.ToString();
            }

            if (response.Headers.Location is { } location)
            {
                context.Response.Headers.Location = location.ToString();
            }

            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
    }
}
