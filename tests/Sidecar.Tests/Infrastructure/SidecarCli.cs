namespace Platform.Sidecar.Tests.Infrastructure;

/// <summary>The sidecar CLI, for tests that run it as a process.</summary>
public static class SidecarCli
{
    /// <summary>The CLI is built with this test project (a project reference); find it in the same configuration.</summary>
    public static string Path()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var path = System.IO.Path.Combine(Repo.Root(), "dev", "Sidecar.Cli", "bin", configuration, "net10.0", "Platform.Sidecar.Cli.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"build the sidecar CLI first: dotnet build dev/Sidecar.Cli -c {configuration}", path);
    }
}
