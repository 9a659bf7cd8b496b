import { createHash } from "node:crypto";

export type RuleName = "velocity" | "unusual-amount" | "fresh-account-chain";

/** Published on topic `alerts`. */
export interface FraudSuspected {
  /** Same (rule, accountId, sequence) → same id, so a redelivered event cannot make a second alert. */
  alertId: string;
  rule: RuleName;
  /** The account whose debit raised it, and that debit's sequence. */
  accountId: string;
  sequence: number;
  details: Record<string, unknown>;
  /** The debit's event time (ISO-8601 UTC). */
  occurredAt: string;
}

// A fixed namespace for name-based (version 5, RFC 9562) UUIDs; changing it would change every alertId.
const namespace = Buffer.from("0f5d3a4e9c2b4b7a8e61d2c3b4a59687", "hex");

export function alertId(rule: RuleName, accountId: string, sequence: number): string {
  // JSON keeps the three parts apart whatever characters an account id holds.
  const hash = createHash("sha1").update(namespace).update(JSON.stringify([rule, accountId, sequence])).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function fraudSuspected(
  rule: RuleName,
  accountId: string,
  sequence: number,
  at: number,
  details: Record<string, unknown>,
): FraudSuspected {
  return { alertId: alertId(rule, accountId, sequence), rule, accountId, sequence, details, occurredAt: new Date(at).toISOString() };
}

/** How many alerts `GET /alerts` can show. */
export const recentAlertsKept = 100;

/** The recent list with `alerts` in front (newest first), without ids it already has, trimmed. */
export function withRecent(recent: readonly FraudSuspected[], alerts: readonly FraudSuspected[]): FraudSuspected[] {
  const known = new Set(recent.map((a) => a.alertId));
  const fresh: FraudSuspected[] = [];
  for (const alert of alerts) {
    if (!known.has(alert.alertId)) {
      known.add(alert.alertId);
      fresh.unshift(alert);
    }
  }
  return [...fresh, ...recent].slice(0, recentAlertsKept);
}
