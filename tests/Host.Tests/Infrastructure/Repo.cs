using System.Reflection;

namespace Platform.Host.Tests.Infrastructure;

/// <summary>Where the repository is, and which configuration this test assembly (and so everything else) was built in.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Configuration { get; } =
        typeof(Repo).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string HostDll => Path.Combine(Root, "dev", "Host", "bin", Configuration, "net10.0", "Platform.Host.dll");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Platform.sln above {AppContext.BaseDirectory}");
    }
}
