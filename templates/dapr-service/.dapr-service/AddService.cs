// Wires a service that `dotnet new dapr-service` just wrote into the solution around it. A template can only
// add files; this does what needs the existing ones: the platform's name in the new namespaces, the projects in
// the solution, an entry in tye.yaml and in dapr.yaml on the next free ports, and the manifest in
// deploy/k8s/base/kustomization.yaml. Run from the solution folder (the template's post action does; this folder is
// deleted once it succeeded): dotnet run .dapr-service/AddService.cs -- Orders
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

// The template writes the service's name next to this file (a post action's arguments are not templated).
var here = Path.Combine(Directory.GetCurrentDirectory(), ".dapr-service");
var nameFile = Path.Combine(here, "service-name.txt");
var name = args.Length == 1 ? args[0] : File.Exists(nameFile) ? File.ReadAllText(nameFile).Trim() : "";
if (args.Length > 1 || !Regex.IsMatch(name, "^[A-Z][A-Za-z0-9]*$"))
{
    Console.Error.WriteLine("usage: dotnet run .dapr-service/AddService.cs -- <ServiceName>   (PascalCase, letters and digits)");
    return 2;
}

var appId = name.ToLowerInvariant();
var root = Directory.GetCurrentDirectory();
var solutions = Directory.GetFiles(root, "*.sln");
if (solutions.Length != 1)
{
    return Fail($"expected one .sln in {root}, found {solutions.Length}: run this from the platform's folder");
}

var solution = solutions[0];
var platform = Path.GetFileNameWithoutExtension(solution);
var project = Path.Combine("services", name, $"{name}.csproj");
var tests = Path.Combine("tests", $"{name}.Tests", $"{name}.Tests.csproj");
if (!File.Exists(project))
{
    return Fail($"{project} does not exist: run `dotnet new dapr-service -n {name}` first");
}

// 1. The template writes Platform.<Name>; the solution's name is the platform's (Contoso.sln: Contoso.Orders).
foreach (var file in new[] { Path.Combine("services", name), Path.Combine("tests", $"{name}.Tests") }
    .Where(Directory.Exists)
    .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
    .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal)))
{
    var text = File.ReadAllText(file);
    var renamed = text.Replace("Platform.", platform + ".", StringComparison.Ordinal);
    if (renamed != text)
    {
        File.WriteAllText(file, renamed);
    }
}

// 2. Both projects in the solution, in its services and tests folders.
if (Dotnet("sln", solution, "add", "--solution-folder", "services", project) != 0
    || (File.Exists(tests) && Dotnet("sln", solution, "add", "--solution-folder", "tests", tests) != 0))
{
    return Fail("dotnet sln add failed");
}

// 3. tye.yaml: one more service, on the next free binding port. The Dapr extension's app-id defaults to the name.
var tyePath = Path.Combine(root, "tye.yaml");
var daprPath = Path.Combine(root, "dapr.yaml");
var appPort = 5100;
if (File.Exists(tyePath))
{
    var tye = File.ReadAllLines(tyePath).ToList();
    if (tye.Any(l => Regex.IsMatch(l, $@"^\s*-\s*name:\s*{appId}\s*$")))
    {
        return Fail($"tye.yaml already has a service named {appId}");
    }

    appPort = NextPort(tye, "port", 5100);
    if (File.Exists(daprPath))
    {
        appPort = Math.Max(appPort, NextPort(File.ReadAllLines(daprPath), "appPort", 5100));
    }

    AppendToBlock(tye, "services",
    [
        $"  # {name}: added by `dotnet new dapr-service`.",
        $"  - name: {appId}",
        $"    project: services/{name}/{name}.csproj",
        "    replicas: 1",
        "    bindings:",
        "      - protocol: http",
        $"        port: {appPort}",
    ]);
    File.WriteAllLines(tyePath, tye);
}

// 4. dapr.yaml: the same app for `dapr run -f .` (tests/Host.Tests checks that the two files agree).
if (File.Exists(daprPath))
{
    var dapr = File.ReadAllLines(daprPath).ToList();
    var httpPort = NextPort(dapr, "daprHTTPPort", 3500);
    var grpcPort = NextPort(dapr, "daprGRPCPort", 50001);
    AppendToBlock(dapr, "apps",
    [
        $"  - appID: {appId}",
        $"    appDirPath: ./services/{name}",
        $"    appPort: {appPort}",
        $"    daprHTTPPort: {httpPort}",
        $"    daprGRPCPort: {grpcPort}",
        $"    command: [\"dotnet\", \"run\", \"--\", \"--urls\", \"http://localhost:{appPort}\"]",
    ]);
    File.WriteAllLines(daprPath, dapr);
}

// 5. Kubernetes: the image and the Dapr Configuration are named after the platform (contoso/orders, contoso), and the
// manifest joins the kustomize base that lists the apps (deploy/k8s/base: `- apps/<app>.yaml`).
var manifest = Path.Combine(root, "deploy", "k8s", "base", "apps", $"{appId}.yaml");
if (File.Exists(manifest))
{
    File.WriteAllText(manifest, File.ReadAllText(manifest)
        .Replace("image: platform/", $"image: {platform.ToLowerInvariant()}/", StringComparison.Ordinal)
        .Replace("dapr.io/config: \"platform\"", $"dapr.io/config: \"{platform.ToLowerInvariant()}\"", StringComparison.Ordinal));
    var kustomization = Path.Combine(root, "deploy", "k8s", "base", "kustomization.yaml");
    if (File.Exists(kustomization))
    {
        var lines = File.ReadAllLines(kustomization).ToList();
        if (!lines.Any(l => l.Trim() == $"- apps/{appId}.yaml"))
        {
            var last = lines.FindLastIndex(l => l.TrimStart().StartsWith("- apps/", StringComparison.Ordinal));
            if (last >= 0)
            {
                lines.Insert(last + 1, lines[last][..lines[last].IndexOf('-', StringComparison.Ordinal)] + $"- apps/{appId}.yaml");
            }
            else
            {
                AppendToBlock(lines, "resources", [$"  - apps/{appId}.yaml"]);
            }

            File.WriteAllLines(kustomization, lines);
        }
    }
    else
    {
        Console.WriteLine($"no deploy/k8s/base/kustomization.yaml: list apps/{appId}.yaml in your kustomize base yourself");
    }
}

// Done: the wiring is not part of the platform.
if (Directory.Exists(here))
{
    Directory.Delete(here, recursive: true);
}

Console.WriteLine($"{name}: added to {Path.GetFileName(solution)}, tye.yaml and dapr.yaml (app-id {appId}, port {appPort}); run it with `dotnet run --project dev/Host`.");
return 0;

static int Fail(string message)
{
    Console.Error.WriteLine($"dapr-service: {message}");
    return 1;
}

static int Dotnet(params string[] arguments)
{
    var start = new ProcessStartInfo("dotnet") { UseShellExecute = false };
    foreach (var a in arguments)
    {
        start.ArgumentList.Add(a);
    }

    using var process = Process.Start(start)!;
    process.WaitForExit();
    return process.ExitCode;
}

// The highest `key: <number>` in the file plus one (or the first port when there is none).
static int NextPort(IEnumerable<string> lines, string key, int first) =>
    lines.Select(l => Regex.Match(l, $@"^\s*-?\s*{key}:\s*(\d+)\s*$"))
        .Where(m => m.Success)
        .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) + 1)
        .DefaultIfEmpty(first)
        .Max();

// Inserts after the last line of the top-level `key:` block (the next top-level key, or the end of the file),
// creating the block at the end when the file has none.
static void AppendToBlock(List<string> lines, string key, IReadOnlyList<string> entry)
{
    var start = lines.FindIndex(l => l.TrimEnd() == $"{key}:");
    if (start < 0)
    {
        lines.Add($"{key}:");
        lines.AddRange(entry);
        return;
    }

    var end = start + 1;
    var lastContent = start;
    for (; end < lines.Count; end++)
    {
        var line = lines[end];
        if (line.Length > 0 && !char.IsWhiteSpace(line[0]) && !line.StartsWith('#'))
        {
            break;
        }

        if (line.Trim().Length > 0 && !line.TrimStart().StartsWith('#'))
        {
            lastContent = end;
        }
    }

    lines.InsertRange(lastContent + 1, entry);
}
