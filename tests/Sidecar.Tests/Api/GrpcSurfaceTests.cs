using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using Platform.Sidecar.Api;
using DaprProto = Dapr.Client.Autogen.Grpc.v1.Dapr;

namespace Platform.Sidecar.Tests.Api;

/// <summary>
/// Which methods of <c>dapr.proto.runtime.v1.Dapr</c> (the service as the pinned <c>Dapr.Protos</c> describes it)
/// the sidecar answers, and that the README lists every one it does not, so a user learns it there and not from
/// an <c>Unimplemented</c> at run time.
/// </summary>
public sealed partial class GrpcSurfaceTests
{
    [Fact]
    public void Readme_ListsExactlyTheMethodsNotBound()
    {
        var notBound = AllMethods().Except(BoundMethods()).Order(StringComparer.Ordinal).ToList();

        var listed = ListedInReadme().Order(StringComparer.Ordinal).ToList();

        Assert.NotEmpty(notBound);
        Assert.Equal(notBound, listed);
    }

    [Fact]
    public async Task EveryMethodNotBound_AnswersUnimplemented_EveryBoundOne_SomethingElse()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcEndpoint);
        var invoker = channel.CreateCallInvoker();
        var bound = BoundMethods();

        foreach (var name in AllMethods().Where(n => n != "Shutdown")) // which would stop the sidecar under test
        {
            // An empty message is a valid protobuf encoding of every request type; a bound method then fails on
            // its own validation (InvalidArgument and the like) or succeeds, never with Unimplemented.
            var method = new Method<byte[], byte[]>(MethodType.Unary, "dapr.proto.runtime.v1.Dapr", name, Bytes, Bytes);
            var code = StatusCode.OK;
            try
            {
                using var call = invoker.AsyncUnaryCall(method, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), []);
                await call.ResponseAsync;
            }
            catch (RpcException e)
            {
                code = e.StatusCode;
            }

            if (bound.Contains(name))
            {
                Assert.True(code != StatusCode.Unimplemented, $"{name} is bound but answered Unimplemented");
            }
            else
            {
                Assert.True(code == StatusCode.Unimplemented, $"{name} is not bound but answered {code}");
            }
        }
    }

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    private static HashSet<string> AllMethods() => DaprProto.Descriptor.Methods.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);

    private static HashSet<string> BoundMethods()
    {
        var binder = new RecordingBinder();
        DaprGrpcService.BindService(binder, null);
        return binder.Names;
    }

    private static IEnumerable<string> ListedInReadme()
    {
        var readme = File.ReadAllText(Path.Combine(Repo.Root(), "dev", "Sidecar", "README.md"));
        var start = readme.IndexOf(UnimplementedHeading, StringComparison.Ordinal);
        Assert.True(start >= 0, $"dev/Sidecar/README.md has no section \"{UnimplementedHeading}\"");
        var end = readme.IndexOf("\n## ", start + UnimplementedHeading.Length, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];
        return ListedMethod().Matches(section).Select(m => m.Groups[1].Value);
    }

    private const string UnimplementedHeading = "## gRPC methods that answer Unimplemented";

    // A table row whose first cell names a method: | `ScheduleJobAlpha1` | ...
    [GeneratedRegex(@"^\| `([A-Za-z0-9]+)` \|", RegexOptions.Multiline)]
    private static partial Regex ListedMethod();

    private sealed class RecordingBinder : ServiceBinderBase
    {
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            Names.Add(method.Name);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            Names.Add(method.Name);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            Names.Add(method.Name);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            Names.Add(method.Name);
    }
}
