namespace Platform.Deploy.Tests.Infrastructure;

/// <summary>Where the repository is: the tests read its manifests, and the schemas kept beside this project.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>The schemas and metadata this project keeps (never the shared reference folder).</summary>
    public static string Schemas(params string[] parts) => Path(["tests", "Deploy.Tests", "schemas", .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Platform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Platform.sln above {AppContext.BaseDirectory}");
    }
}
