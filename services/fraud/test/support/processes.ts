// Starts what the integration tests need — redis-server, sidecars, the fraud app — on free ports, and stops
// every process it started, also when a test fails or the runner dies.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** services/fraud, from dist-test/test/support. */
export const serviceDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const repoRoot = resolve(serviceDir, "../..");

export function sidecarDll(): string {
  const dll = process.env["SIDECAR_DLL"] || join(repoRoot, "dev/Sidecar.Cli/bin/Release/net10.0/Platform.Sidecar.Cli.dll");
  if (!existsSync(dll)) {
    throw new Error(`the sidecar CLI is missing (${dll}) — build it first: dotnet build dev/Sidecar.Cli -c Release (or set SIDECAR_DLL)`);
  }
  return dll;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Thrown by a probe to stop polling at once (the process it waits for has exited). */
export class GaveUp extends Error {}

/** Polls `probe` until it returns a value (not undefined), or fails with `what` at the deadline. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) {
        return value;
      }
    } catch (e) {
      if (e instanceof GaveUp) {
        throw e;
      }
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Started {
  name: string;
  child: ChildProcess;
  /** Infrastructure (Redis) stops after everything that uses it. */
  stopLast: boolean;
  stopSignal: NodeJS.Signals;
  /** Everything it wrote, for a failure message. */
  output: () => string;
  /** Why it is no longer running, or undefined while it runs. */
  ended: () => string | undefined;
}

/** Every process of one test run, stopped by stopAll (and killed if the runner exits first). */
export class Processes {
  private readonly started: Started[] = [];
  private readonly tempDirs: string[] = [];
  private readonly killOnExit = () => {
    for (const p of this.started) {
      p.child.kill("SIGKILL");
    }
  };

  constructor() {
    process.once("exit", this.killOnExit);
  }

  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.tempDirs.push(dir);
    return dir;
  }

  start(
    name: string,
    command: string,
    args: string[],
    options: { env?: Record<string, string>; stopSignal?: NodeJS.Signals; stopLast?: boolean } = {},
  ): Started {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.length > 200_000) {
        output = output.slice(-100_000);
      }
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    let spawnError: string | undefined;
    child.on("error", (e) => (spawnError = `${command} could not start: ${e.message}`));
    const started: Started = {
      name,
      child,
      stopLast: options.stopLast ?? false,
      stopSignal: options.stopSignal ?? "SIGTERM",
      output: () => output,
      ended: () =>
        spawnError ?? (child.exitCode !== null || child.signalCode !== null ? `${name} exited (${child.exitCode ?? child.signalCode}):\n${output}` : undefined),
    };
    this.started.push(started);
    return started;
  }

  /** Waits for a line of `p`'s output to match, failing early if it exits. */
  async waitForOutput(p: Started, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return until(
      `${p.name} to print ${pattern}`,
      () => {
        const match = p.output().match(pattern);
        if (match) {
          return match;
        }
        const ended = p.ended();
        if (ended) {
          throw new GaveUp(ended);
        }
        return undefined;
      },
      timeoutMs,
    );
  }

  /** Output of every process, for a failed assertion. */
  logs(): string {
    return this.started.map((p) => `----- ${p.name}\n${p.output().slice(-6_000)}`).join("\n");
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.started.filter((p) => !p.stopLast).map(stop));
    await Promise.all(this.started.filter((p) => p.stopLast).map(stop));
    process.removeListener("exit", this.killOnExit);
    for (const dir of this.tempDirs) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

async function stop(p: Started): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null || p.child.pid === undefined) {
    return;
  }
  const exited = new Promise<void>((r) => p.child.once("exit", () => r()));
  p.child.kill(p.stopSignal);
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A redis-server of our own on a free port, nothing persisted. */
export async function startRedis(processes: Processes): Promise<number> {
  const port = await freePort();
  const server = processes.start("redis", "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stopLast: true,
  });
  try {
    await until(`redis-server on port ${port}`, async () => {
      const ended = server.ended();
      if (ended) {
        throw new GaveUp(ended);
      }
      return (await redisPing(port)) ? true : undefined;
    });
  } catch (e) {
    throw new Error(`${String(e)} — the integration tests need redis-server: apt-get install -y redis-server`);
  }
  return port;
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setTimeout(1_000);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      resolvePing(d.toString().startsWith("+PONG"));
      socket.destroy();
    });
    socket.on("error", () => resolvePing(false));
    socket.on("timeout", () => {
      resolvePing(false);
      socket.destroy();
    });
  });
}

/** Components on the test's Redis: `pubsub` (Redis Streams) and `statestore`. */
export function redisComponents(processes: Processes, redisPort: number): string {
  const dir = processes.tempDir("fraud-components-");
  writeFileSync(
    join(dir, "pubsub.yaml"),
    `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.redis
  version: v1
  metadata:
    - name: redisHost
      value: 127.0.0.1:${redisPort}
    - name: processingTimeout
      value: "5s"
    - name: redeliverInterval
      value: "1s"
`,
  );
  writeFileSync(
    join(dir, "statestore.yaml"),
    `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: 127.0.0.1:${redisPort}
`,
  );
  return dir;
}

export interface Sidecar {
  appId: string;
  httpPort: number;
  grpcPort: number;
  url: string;
}

export async function startSidecar(
  processes: Processes,
  options: { appId: string; appPort?: number; resources: string; registry: string },
): Promise<Sidecar> {
  const args = [sidecarDll(), "--app-id", options.appId, "--dapr-http-port", "0", "--dapr-grpc-port", "0", "--resources-path", options.resources];
  if (options.appPort !== undefined) {
    args.push("--app-port", String(options.appPort));
  }
  // SIGINT, as Ctrl+C: this sidecar build ignores SIGTERM (its web host's console lifetime swallows it).
  const p = processes.start(`sidecar ${options.appId}`, "dotnet", args, {
    env: { PLATFORM_SIDECAR_REGISTRY: options.registry },
    stopSignal: "SIGINT",
  });
  const ready = await processes.waitForOutput(p, /sidecar ready: app-id=(\S+) http-port=(\d+) grpc-port=(\d+)/);
  const httpPort = Number(ready[2]);
  return { appId: options.appId, httpPort, grpcPort: Number(ready[3]), url: `http://127.0.0.1:${httpPort}` };
}

/** The fraud service as `npm start` runs it, from the copy compiled with the tests (dist-test/src/main.js). */
export function startFraud(processes: Processes, appPort: number, sidecar: Sidecar, env: Record<string, string> = {}): Started {
  return processes.start("fraud", process.execPath, [join(serviceDir, "dist-test/src/main.js")], {
    env: {
      APP_PORT: String(appPort),
      DAPR_HTTP_PORT: String(sidecar.httpPort),
      DAPR_GRPC_PORT: String(sidecar.grpcPort),
      FRAUD_LOG_LEVEL: "info",
      ...env,
    },
  });
}
