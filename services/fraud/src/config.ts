// Settings come from the environment (12-factor; `dapr run` and Kubernetes both set env vars) and are checked
// once at start, so a typo fails the process with a message instead of silently using a default.

import { isIP } from "node:net";

export interface RuleSettings {
  /** Velocity: more than this many debits ... */
  velocityMax: number;
  /** ... within this much event time (inclusive) raise an alert. */
  velocityWindowMs: number;
  /** Unusual amount: a debit above factor × the account's mean debit ... */
  amountFactor: number;
  /** ... once the account has at least this many earlier debits. */
  amountMinHistory: number;
  /** Fresh-account chain: at least this many transfers A→B→C… */
  chainLength: number;
  /** ... where every intermediate account was opened at most this long before the money reached it ... */
  chainFreshMs: number;
  /** ... and every hop left at most this long after the previous one arrived. */
  chainWindowMs: number;
}

export interface Settings {
  /** The address this app listens on: APP_HOST, else loopback (its sidecar is on the same host). */
  appHost: string;
  /** Where this app listens: APP_PORT (`dapr run --app-port` sets it), else PORT (`tye run`), else 3001. */
  appPort: number;
  daprHost: string;
  daprHttpPort: number;
  rules: RuleSettings;
}

export const defaultRules: RuleSettings = {
  velocityMax: 5,
  velocityWindowMs: 60_000,
  amountFactor: 10,
  amountMinHistory: 3,
  chainLength: 3,
  chainFreshMs: 10 * 60_000,
  chainWindowMs: 10 * 60_000,
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates every setting; throws one ConfigError listing every bad variable. */
export function loadSettings(env: Env = process.env): Settings {
  const problems: string[] = [];

  const read = (name: string, fallback: number, check: (n: number) => boolean, expected: string): number => {
    const text = env[name]?.trim();
    if (text === undefined || text === "") {
      return fallback;
    }
    const value = Number(text);
    if (!check(value)) {
      problems.push(`${name} must be ${expected} (got ${JSON.stringify(env[name])})`);
      return fallback;
    }
    return value;
  };
  const wholeAtLeast = (min: number) => (n: number) => Number.isSafeInteger(n) && n >= min;
  const port = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65_535;

  // Like every app here, fraud listens on loopback unless told otherwise; Kubernetes sets APP_HOST=0.0.0.0 (the
  // kubelet probes the pod IP), as ASPNETCORE_HTTP_PORTS makes the C# apps listen on every address there.
  const appHost = env["APP_HOST"]?.trim() || "127.0.0.1";
  if (!isIP(appHost)) {
    problems.push(`APP_HOST must be an IP address to listen on, such as 127.0.0.1 or 0.0.0.0 (got ${JSON.stringify(env["APP_HOST"])})`);
  }

  const settings: Settings = {
    appHost,
    // `dapr run` sets APP_PORT; `tye run` sets PORT for an executable's binding. APP_PORT wins when both are set.
    appPort: env["APP_PORT"]?.trim() ? read("APP_PORT", 3001, port, "a TCP port (1-65535)") : read("PORT", 3001, port, "a TCP port (1-65535)"),
    daprHost: env["DAPR_HOST"]?.trim() || "127.0.0.1",
    daprHttpPort: read("DAPR_HTTP_PORT", 3500, port, "a TCP port (1-65535)"),
    rules: {
      velocityMax: read("FRAUD_VELOCITY_MAX", defaultRules.velocityMax, wholeAtLeast(1), "a whole number ≥ 1"),
      velocityWindowMs:
        1000 * read("FRAUD_VELOCITY_WINDOW_SECONDS", defaultRules.velocityWindowMs / 1000, wholeAtLeast(1), "a whole number of seconds ≥ 1"),
      amountFactor: read("FRAUD_AMOUNT_FACTOR", defaultRules.amountFactor, (n) => Number.isFinite(n) && n > 1, "a number > 1"),
      amountMinHistory: read("FRAUD_AMOUNT_MIN_HISTORY", defaultRules.amountMinHistory, wholeAtLeast(1), "a whole number ≥ 1"),
      chainLength: read("FRAUD_CHAIN_LENGTH", defaultRules.chainLength, wholeAtLeast(2), "a whole number ≥ 2"),
      chainFreshMs:
        60_000 * read("FRAUD_CHAIN_FRESH_MINUTES", defaultRules.chainFreshMs / 60_000, wholeAtLeast(1), "a whole number of minutes ≥ 1"),
      chainWindowMs:
        60_000 * read("FRAUD_CHAIN_WINDOW_MINUTES", defaultRules.chainWindowMs / 60_000, wholeAtLeast(1), "a whole number of minutes ≥ 1"),
    },
  };

  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return settings;
}
