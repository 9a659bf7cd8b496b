using Dapr.Client.Autogen.Grpc.v1;
using Grpc.Core;

namespace Platform.Sidecar.Api;

/// <summary>The secrets API over gRPC (<c>GetSecret</c>, <c>GetBulkSecret</c>): translates to and from <see cref="Secrets.SecretsService"/>.</summary>
public partial class DaprGrpcService
{
    private static void BindSecrets(ServiceBinderBase binder)
    {
        Add<GetSecretRequest, GetSecretResponse>(binder, nameof(GetSecret));
        Add<GetBulkSecretRequest, GetBulkSecretResponse>(binder, nameof(GetBulkSecret));
    }

    public virtual Task<GetSecretResponse> GetSecret(GetSecretRequest request, ServerCallContext context)
    {
        var response = new GetSecretResponse();
        response.Data.Add(rt.Secrets.Get(request.StoreName, request.Key).ToDictionary());
        return Task.FromResult(response);
    }

    public virtual Task<GetBulkSecretResponse> GetBulkSecret(GetBulkSecretRequest request, ServerCallContext context)
    {
        var response = new GetBulkSecretResponse();
        foreach (var (name, values) in rt.Secrets.BulkGet(request.StoreName))
        {
            var secret = new SecretResponse();
            secret.Secrets.Add(values.ToDictionary());
            response.Data[name] = secret;
        }

        return Task.FromResult(response);
    }
}
