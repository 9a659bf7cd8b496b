// Brings the platform up the way a user does — `dotnet run --project dev/Host` — and finds the dashboard URL
// in what the host prints. The host picks free ports for every replica and sidecar.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

// test.sh builds the solution in Release before the suites run; a developer running `npm test` alone gets that
// build here once. The host is then started with --no-build, so the test measures the platform, not a build.
const configuration = process.env.PLATFORM_CONFIGURATION ?? "Release";

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed in ${cwd} (exit ${result.status})`);
}

function prepare() {
  if (!existsSync(join(repo, "dev", "Host", "bin", configuration, "net10.0", "Platform.Host.dll"))
    || !existsSync(join(repo, "services", "Live", "bin", configuration, "net10.0", "Platform.Live.dll"))) {
    run("dotnet", ["build", "Platform.sln", "-c", configuration, "-nologo", "-clp:ErrorsOnly"], repo);
  }
  const fraud = join(repo, "services", "fraud");
  if (!existsSync(join(fraud, "node_modules"))) run("npm", ["ci", "--no-audit", "--no-fund"], fraud);
  if (!existsSync(join(fraud, "dist", "main.js"))) run("npm", ["run", "build"], fraud);
}

/** Starts dev/Host; resolves once every replica is up, with the dashboard URL and a stop function. */
export async function startPlatform({ timeoutMs = 180_000 } = {}) {
  prepare();
  const host = spawn("dotnet", ["run", "--project", "dev/Host", "-c", configuration, "--no-build", "--", "-c", configuration, "--no-build"], {
    cwd: repo,
    env: { ...process.env, NO_COLOR: "1" },
    detached: true, // its own process group, so stop() reaches the host behind `dotnet run`
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines = [];
  let dashboard = null;
  let ready = false;
  const onData = (chunk) => {
    for (const line of chunk.toString().split("\n")) {
      if (!line) continue;
      lines.push(line);
      if (lines.length > 400) lines.shift();
      const m = /dashboard: (http:\/\/\S+)/.exec(line);
      if (m) dashboard = m[1];
      if (/\[host\] ready:/.test(line)) ready = true;
    }
  };
  host.stdout.on("data", onData);
  host.stderr.on("data", onData);
  const exited = new Promise((resolve) => host.on("exit", resolve));

  const stop = async () => {
    if (host.exitCode !== null) return;
    try { process.kill(-host.pid, "SIGTERM"); } catch { return; }
    const timer = setTimeout(() => { try { process.kill(-host.pid, "SIGKILL"); } catch { /* gone */ } }, 20_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + timeoutMs;
  while (!(dashboard && ready)) {
    if (host.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`dev/Host did not come up (exit ${host.exitCode}); its last output:\n${lines.slice(-60).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { dashboard, stop, output: () => lines.join("\n") };
}
