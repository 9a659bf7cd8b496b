using System.Collections.Concurrent;

namespace Platform.Templates.Tests.Infrastructure;

/// <summary>
/// The template package as users get it: <c>dotnet pack templates/Platform.Templates.csproj</c>, installed into a
/// private template hive (an absolute temp path: a relative one makes the install fail), so nothing touches the
/// user's own templates. Everything this run writes (package, hive, generated platforms) lives in one temp folder.
/// </summary>
public sealed class TemplateHive : IAsyncLifetime
{
    // Generous: a solution build takes about a minute on two idle cores, and over ten on a machine shared by five builds.
    public static readonly TimeSpan Slow = TimeSpan.FromMinutes(25);

    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _built = new();

    public DirectoryInfo Root { get; } = Directory.CreateTempSubdirectory("templates-tests-");

    public string Hive => Path.Combine(Root.FullName, "hive");

    public async Task InitializeAsync()
    {
        var package = Path.Combine(Root.FullName, "package");
        // --artifacts-path keeps pack's bin/obj out of the repository too.
        await Dotnet.RunAsync(Repo.Root, Slow, "pack", Path.Combine("templates", "Platform.Templates.csproj"), "-o", package,
            "--artifacts-path", Path.Combine(Root.FullName, "artifacts"), "-nologo");
        var nupkg = Assert.Single(Directory.GetFiles(package, "*.nupkg"));
        var installed = await Dotnet.RunAsync(Root.FullName, Slow, "new", "install", nupkg, "--debug:custom-hive", Hive);
        Assert.Contains("dapr-platform", installed, StringComparison.Ordinal);
        Assert.Contains("dapr-service", installed, StringComparison.Ordinal);
    }

    /// <summary><c>dotnet new</c> with this hive, in <paramref name="folder"/>.</summary>
    public Task<string> NewAsync(string folder, params string[] args) =>
        Dotnet.RunAsync(folder, Slow, ["new", .. args, "--debug:custom-hive", Hive]);

    /// <summary>
    /// A platform generated with <c>dotnet new dapr-platform -n name args</c> and built (<c>dotnet build</c>, Debug),
    /// once per run for the same arguments: tests that only read it or run it share it (generating and building the
    /// whole solution takes minutes). A test that changes the platform makes its own with <see cref="NewPlatformAsync"/>.
    /// </summary>
    public Task<string> BuiltPlatformAsync(string name, params string[] args) =>
        _built.GetOrAdd(string.Join(' ', [name, .. args]), _ => new Lazy<Task<string>>(async () =>
        {
            var output = await NewPlatformAsync(name, args);
            await Dotnet.RunAsync(output, Slow, "build", $"{name}.sln", "-nologo", "-clp:ErrorsOnly");
            return output;
        })).Value;

    /// <summary>A new platform in a fresh folder: <c>dotnet new dapr-platform -n name args</c>, without the restore.</summary>
    public async Task<string> NewPlatformAsync(string name, params string[] args)
    {
        var output = Path.Combine(Root.FullName, $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)]);
        await NewAsync(Root.FullName, ["dapr-platform", "-n", name, "-o", output, "--no-restore", .. args]);
        return output;
    }

    public Task DisposeAsync()
    {
        try
        {
            Root.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A process of a generated platform still holds a file: the temp folder is cleaned by the OS.
        }

        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class TemplatesCollection : ICollectionFixture<TemplateHive>
{
    // One collection: these tests build whole solutions and must not compete with each other for the cores.
    public const string Name = "templates";
}
