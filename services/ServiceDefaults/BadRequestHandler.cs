using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Platform.ServiceDefaults;

/// <summary>
/// A request whose body cannot be read (not JSON, a field of the wrong type, too large) gets a ProblemDetails that
/// says so, with a stable <c>code</c>: by default ASP.NET answers a bare "Bad Request" that names nothing.
/// </summary>
internal sealed class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad)
        {
            return false;
        }

        var (code, title, detail) = bad switch
        {
            { StatusCode: StatusCodes.Status413PayloadTooLarge } => ("body-too-large", "Request body too large", bad.Message),
            // Minimal APIs throw this (with ThrowOnBadRequest) for a body with no or a non-JSON Content-Type; left
            // unhandled it would be a 500.
            { StatusCode: StatusCodes.Status415UnsupportedMediaType } => ("unsupported-media-type", "Unsupported media type", UnsupportedDetail(httpContext)),
            { InnerException: JsonException json } => ("malformed-json", "Malformed request body", $"{bad.Message} {json.Message}"),
            _ => ("bad-request", "Bad request", bad.Message),
        };
        if (code == "bad-request" && bad.StatusCode != StatusCodes.Status400BadRequest)
        {
            return false;
        }

        httpContext.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = bad.StatusCode,
                Title = title,
                Detail = detail,
                Extensions = { ["code"] = code },
            },
        });
    }

    /// <summary>The answers ASP.NET writes without an exception (a body over the size limit, a body that is not JSON) get a code and a detail too.</summary>
    public static void Describe(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Extensions.ContainsKey("code"))
        {
            return;
        }

        (string Code, string Detail)? known = problem.Status switch
        {
            StatusCodes.Status413PayloadTooLarge => ("body-too-large", "The request body is larger than this service accepts."),
            StatusCodes.Status415UnsupportedMediaType => ("unsupported-media-type", UnsupportedDetail(context.HttpContext)),
            _ => null,
        };
        if (known is { } k)
        {
            problem.Extensions["code"] = k.Code;
            problem.Detail ??= k.Detail;
        }
    }

    private static string UnsupportedDetail(HttpContext context) =>
        $"Send the body as application/json (got {(string.IsNullOrEmpty(context.Request.ContentType) ? "no content type" : context.Request.ContentType)}).";
}
