// One JSON object per line on stdout, fields kept apart from the message so logs stay queryable.
type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function write(level: Level, message: string, fields: Record<string, unknown>): void {
  if (order[level] < (order[process.env["FRAUD_LOG_LEVEL"] as Level] ?? order.info)) {
    return;
  }
  const line = JSON.stringify({ time: new Date().toISOString(), level, service: "fraud", message, ...fields }, (_, v: unknown) =>
    v instanceof Error ? v.message : v,
  );
  (level === "error" ? process.stderr : process.stdout).write(line + "\n");
}

export const log = {
  debug: (message: string, fields: Record<string, unknown> = {}) => write("debug", message, fields),
  info: (message: string, fields: Record<string, unknown> = {}) => write("info", message, fields),
  warn: (message: string, fields: Record<string, unknown> = {}) => write("warn", message, fields),
  error: (message: string, fields: Record<string, unknown> = {}) => write("error", message, fields),
};
