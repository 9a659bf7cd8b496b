using Dapr.Client.Autogen.Grpc.v1;
using Grpc.Core;

namespace Platform.Sidecar.Api;

/// <summary>The distributed lock API over gRPC (<c>TryLockAlpha1</c>, <c>UnlockAlpha1</c>): the shared operations, translated.</summary>
public partial class DaprGrpcService
{
    static partial void BindLocks(ServiceBinderBase binder)
    {
        Add<TryLockRequest, TryLockResponse>(binder, nameof(TryLockAlpha1));
        Add<UnlockRequest, UnlockResponse>(binder, nameof(UnlockAlpha1));
    }

    public virtual async Task<TryLockResponse> TryLockAlpha1(TryLockRequest request, ServerCallContext context) => new()
    {
        Success = await rt.Locks.TryLockAsync(request.StoreName, request.ResourceId, request.LockOwner, request.ExpiryInSeconds, context.CancellationToken),
    };

    public virtual async Task<UnlockResponse> UnlockAlpha1(UnlockRequest request, ServerCallContext context) => new()
    {
        Status = (UnlockResponse.Types.Status)(int)await rt.Locks.UnlockAsync(request.StoreName, request.ResourceId, request.LockOwner, context.CancellationToken),
    };
}
