// Test fixture: free ports, a private redis-server, component folders in a temp dir, sidecar processes and
// DaprServer apps, all torn down at the end of the test file (also when a test fails or the process exits).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CommunicationProtocolEnum, DaprClient, DaprServer, LogLevel } from "@dapr/dapr";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..", "..");

/** The sidecar executable: $SIDECAR_DLL, or the Release build in this repository. */
export const sidecarDll = process.env.SIDECAR_DLL
  ? path.resolve(process.env.SIDECAR_DLL)
  : path.join(repoRoot, "dev", "Sidecar.Cli", "bin", "Release", "net10.0", "Platform.Sidecar.Cli.dll");

/** gRPC status codes (grpc/doc/statuscodes.md) the tests look for. */
export const GrpcCode = Object.freeze({ InvalidArgument: 3, NotFound: 5, Aborted: 10, Internal: 13 });

/** An SDK logger that says nothing: the SDK logs every failed save/delete at error level. */
const silent = () => {};
export const quietLogger = Object.freeze({
  level: LogLevel.Error,
  service: { error: silent, warn: silent, info: silent, verbose: silent, debug: silent },
});

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a truthy value (which is returned) or the deadline passes. */
export async function waitFor(probe, { timeoutMs = 30000, intervalMs = 25, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await probe();
      if (value) {
        return value;
      }
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const detail = lastError ? ` (last error: ${lastError.message ?? lastError})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A unique name for keys and topics, so tests never see each other's data. */
export function unique(prefix) {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

// ---- a minimal RESP client (enough for PING and XPENDING) ----

function encodeCommand(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) {
    const s = String(a);
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }
  return out;
}

function parseReply(buf, at) {
  const eol = buf.indexOf("\r\n", at);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString("utf8", at + 1, eol);
  const next = eol + 2;
  switch (type) {
    case "+":
      return { value: line, next };
    case "-":
      return { value: new Error(line), next };
    case ":":
      return { value: Number(line), next };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, next };
      if (buf.length < next + len + 2) return null;
      return { value: buf.toString("utf8", next, next + len), next: next + len + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, next };
      const items = [];
      let pos = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, pos);
        if (!item) return null;
        items.push(item.value);
        pos = item.next;
      }
      return { value: items, next: pos };
    }
    default:
      throw new Error(`unexpected RESP reply type '${type}'`);
  }
}

/** Sends one command to the redis on 127.0.0.1:`port` and returns its reply (an error reply rejects). */
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    sock.setTimeout(3000, () => sock.destroy(new Error(`redis ${args[0]} timed out`)));
    sock.on("connect", () => sock.write(encodeCommand(args)));
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const reply = parseReply(buf, 0);
      if (reply) {
        sock.end();
        if (reply.value instanceof Error) reject(reply.value);
        else resolve(reply.value);
      }
    });
    sock.on("error", reject);
  });
}

/** How many entries of `stream` consumer group `group` has read but not acknowledged. */
export async function pendingCount(redisPort, stream, group) {
  const summary = await redisCommand(redisPort, "XPENDING", stream, group);
  return Number(summary[0]);
}

// ---- processes ----

const live = new Set();
function killAll() {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}
// Last resort when a test file dies without running its `after` hooks, or is interrupted.
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + (signal === "SIGINT" ? 2 : 15));
  });
}

function track(child) {
  live.add(child);
  child.on("exit", () => live.delete(child));
  return child;
}

function collectLines(stream, sink, onLine) {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk) => {
    partial += chunk;
    let nl;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl).replace(/\r$/, "");
      partial = partial.slice(nl + 1);
      sink.push(line);
      if (sink.length > 400) sink.splice(0, sink.length - 400);
      onLine?.(line);
    }
  });
}

async function stopProcess(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function sidecarMissing() {
  return new Error(`sidecar not found at ${sidecarDll}: build it first: dotnet build dev/Sidecar.Cli -c Release (or set SIDECAR_DLL)`);
}

/**
 * Everything one test file starts. Make one per file; call close() in `after`.
 */
export class Harness {
  constructor(name) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), `sidecar-js-${name}-`));
    this.registry = path.join(this.dir, "registry");
    mkdirSync(this.registry, { mode: 0o700 }); // the sidecar refuses a registry folder others can read
    this.sidecars = [];
    this.servers = [];
    this.clients = [];
    this.redis = null;
  }

  /** Starts a private redis-server on a free port and waits until it answers PING. */
  async startRedis() {
    if (!existsOnPath("redis-server")) {
      throw new Error("redis-server is not installed: apt-get install -y redis-server");
    }
    const port = await freePort();
    const dataDir = path.join(this.dir, `redis-${port}`);
    mkdirSync(dataDir);
    const output = [];
    const child = track(spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dataDir], {
      stdio: ["ignore", "pipe", "pipe"],
    }));
    collectLines(child.stdout, output);
    collectLines(child.stderr, output);
    let exited = false;
    child.on("exit", () => (exited = true));
    await waitFor(async () => {
      if (exited) throw new Error(`redis-server exited: ${output.slice(-5).join(" | ")}`);
      return (await redisCommand(port, "PING")) === "PONG";
    }, { timeoutMs: 10000, what: `redis-server on port ${port}` });
    this.redis = { port, host: `127.0.0.1:${port}`, process: child };
    return this.redis;
  }

  /** Writes `files` ({"name.yaml": text}) into a new folder under the temp dir and returns its path. */
  components(name, files) {
    const dir = path.join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) {
      writeFileSync(path.join(dir, file), text);
    }
    return dir;
  }

  /** Spawns a sidecar and resolves once it printed its ready line, with its ports. */
  async startSidecar({ appId, appPort, resources = [], extraArgs = [], timeoutMs = 60000 }) {
    if (!existsSync(sidecarDll)) throw sidecarMissing();
    // warn: the ready line is printed whatever the level; info would log every request.
    const args = [sidecarDll, "--app-id", appId, "--dapr-http-port", "0", "--dapr-grpc-port", "0", "--log-level", "warn"];
    if (appPort) args.push("--app-port", String(appPort));
    for (const r of resources) args.push("--resources-path", r);
    args.push(...extraArgs);
    const output = [];
    const child = track(spawn("dotnet", args, {
      cwd: this.dir,
      env: { ...process.env, PLATFORM_SIDECAR_REGISTRY: this.registry, DOTNET_NOLOGO: "1", DOTNET_CLI_TELEMETRY_OPTOUT: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    }));
    const sidecar = {
      appId,
      appPort,
      process: child,
      output,
      httpPort: 0,
      grpcPort: 0,
      get httpEndpoint() {
        return `http://127.0.0.1:${this.httpPort}`;
      },
      /** SIGTERM, then SIGKILL if it has not exited after graceMs. */
      stop: (graceMs = 5000) => stopProcess(child, graceMs),
    };
    this.sidecars.push(sidecar);
    const ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sidecar ${appId} printed no ready line within ${timeoutMs} ms:\n${output.slice(-20).join("\n")}`)), timeoutMs);
      collectLines(child.stdout, output, (line) => {
        const m = /^sidecar ready: app-id=(\S+) http-port=(\d+) grpc-port=(\d+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          sidecar.httpPort = Number(m[2]);
          sidecar.grpcPort = Number(m[3]);
          resolve(sidecar);
        }
      });
      collectLines(child.stderr, output);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`sidecar ${appId} exited (code ${code}, signal ${signal}) before it was ready:\n${output.slice(-20).join("\n")}`));
      });
    });
    return ready;
  }

  /** Runs a sidecar that is expected to exit by itself; resolves with its exit code, stdout and stderr. */
  async runSidecarToExit({ appId, resources = [], timeoutMs = 30000 }) {
    if (!existsSync(sidecarDll)) throw sidecarMissing();
    const args = [sidecarDll, "--app-id", appId, "--dapr-http-port", "0", "--dapr-grpc-port", "0"];
    for (const r of resources) args.push("--resources-path", r);
    const child = track(spawn("dotnet", args, {
      cwd: this.dir,
      env: { ...process.env, PLATFORM_SIDECAR_REGISTRY: this.registry, DOTNET_NOLOGO: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    }));
    const stdout = [];
    const stderr = [];
    collectLines(child.stdout, stdout);
    collectLines(child.stderr, stderr);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`sidecar ${appId} was expected to exit but still runs after ${timeoutMs} ms:\n${stdout.slice(-20).join("\n")}`));
      }, timeoutMs);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: stdout.join("\n"), stderr: stderr.join("\n") });
      });
    });
  }

  /** A DaprClient on `sidecar` (HTTP unless protocol says gRPC). */
  client(sidecar, protocol = CommunicationProtocolEnum.HTTP) {
    const grpc = protocol === CommunicationProtocolEnum.GRPC;
    const c = new DaprClient({
      daprHost: "127.0.0.1",
      daprPort: String(grpc ? sidecar.grpcPort : sidecar.httpPort),
      communicationProtocol: protocol,
      logger: quietLogger,
    });
    this.clients.push(c);
    return c;
  }

  /** A DaprClient on a daprd endpoint given as a URL (e.g. http://127.0.0.1:3500). */
  clientForEndpoint(url, protocol = CommunicationProtocolEnum.HTTP) {
    const u = new URL(url.includes("://") ? url : `http://${url}`);
    const c = new DaprClient({
      daprHost: `${u.protocol}//${u.hostname}`,
      daprPort: u.port || (u.protocol === "https:" ? "443" : "80"),
      communicationProtocol: protocol,
      logger: quietLogger,
    });
    this.clients.push(c);
    return c;
  }

  /**
   * Starts an app: a DaprServer on a free port (routes registered by `setup(server)`) and its sidecar with
   * --app-port (and --app-protocol grpc for `protocol: GRPC`); the server's own client (what its actors use) speaks
   * `clientProtocol`, by default the app's protocol. Resolves once the sidecar reports healthy, i.e. it has read /dapr/subscribe and its
   * subscriptions are running.
   */
  async startApp({ appId, resources, setup, extraArgs = [], protocol = CommunicationProtocolEnum.HTTP, clientProtocol = protocol }) {
    const appPort = await freePort();
    // A gRPC DaprServer serves AppCallback: its sidecar runs with --app-protocol grpc, and the server's own client uses gRPC.
    const grpc = protocol === CommunicationProtocolEnum.GRPC;
    const sidecar = await this.startSidecar({ appId, appPort, resources, extraArgs: grpc ? ["--app-protocol", "grpc", ...extraArgs] : extraArgs });
    const server = new DaprServer({
      serverHost: "127.0.0.1",
      serverPort: String(appPort),
      communicationProtocol: protocol,
      clientOptions: {
        daprHost: "127.0.0.1",
        daprPort: String(clientProtocol === CommunicationProtocolEnum.GRPC ? sidecar.grpcPort : sidecar.httpPort),
        communicationProtocol: clientProtocol,
        logger: quietLogger,
      },
      logger: quietLogger,
    });
    this.servers.push(server);
    await setup(server);
    await server.start();
    await waitForHealthy(sidecar);
    return { sidecar, server, appPort };
  }

  /** Stops every sidecar, app and redis this harness started and removes the temp dir. */
  async close() {
    await Promise.allSettled(this.sidecars.map((s) => s.stop()));
    await Promise.allSettled(this.servers.map((s) => s.stop()));
    await Promise.allSettled(this.clients.map((c) => c.stop()));
    if (this.redis) await stopProcess(this.redis.process, 2000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits until the sidecar's /v1.0/healthz answers 204 (it does once the app's subscriptions run). */
export async function waitForHealthy(sidecar, timeoutMs = 60000) {
  await waitFor(async () => (await fetch(`${sidecar.httpEndpoint}/v1.0/healthz`)).status === 204, {
    timeoutMs,
    what: `sidecar ${sidecar.appId} to become healthy`,
  });
}

function existsOnPath(cmd) {
  return (process.env.PATH ?? "").split(path.delimiter).some((d) => d && existsSync(path.join(d, cmd)));
}

// ---- components ----

export function component(name, type, metadata = {}) {
  const items = Object.entries(metadata)
    .map(([k, v]) => `    - name: ${k}\n      value: "${v}"`)
    .join("\n");
  return [
    "apiVersion: dapr.io/v1alpha1",
    "kind: Component",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    `  type: ${type}`,
    "  version: v1",
    ...(items ? ["  metadata:", items] : []),
    "",
  ].join("\n");
}

// ---- SDK error helpers ----

/**
 * The JS SDK's HTTP client reports a failed call as an Error whose message is JSON
 * {error, error_msg, status}; error_msg is daprd's body {errorCode, message}. Returns {status, errorCode, text}.
 */
export function httpError(err) {
  assertIsError(err);
  const text = String(err.message);
  let outer;
  try {
    outer = JSON.parse(text);
  } catch {
    return { status: undefined, errorCode: undefined, text };
  }
  let body = {};
  try {
    body = JSON.parse(outer.error_msg);
  } catch {
    // not JSON
  }
  return { status: outer.status, errorCode: body.errorCode, message: body.message, text };
}

function assertIsError(err) {
  if (!(err instanceof Error)) throw new Error(`expected an Error, got ${JSON.stringify(err)}`);
}

/** The `reason` of a google.rpc.ErrorInfo detail on a ConnectError (field 1, a string), if there is one. */
export function errorInfoReason(err) {
  for (const d of err?.details ?? []) {
    if (d?.type === "google.rpc.ErrorInfo" && d.value instanceof Uint8Array) {
      return readProtoString(d.value, 1);
    }
  }
  return undefined;
}

function readProtoString(bytes, wantedField) {
  let i = 0;
  const varint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      const slice = bytes.subarray(i, i + len);
      i += len;
      if (field === wantedField) return Buffer.from(slice).toString("utf8");
    } else if (wire === 0) {
      varint();
    } else if (wire === 5) {
      i += 4;
    } else if (wire === 1) {
      i += 8;
    } else {
      return undefined;
    }
  }
  return undefined;
}
