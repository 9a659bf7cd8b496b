namespace Platform.Templates.Tests.Infrastructure;

/// <summary>Where the repository (the template's source) is.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")) && Directory.Exists(Path.Combine(dir.FullName, ".template.config")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Platform.sln with a .template.config above {AppContext.BaseDirectory}");
    }
}
