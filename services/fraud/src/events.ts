// Our own copy of the Ledger event contract (README, "The ledger event contract"). A tolerant reader: it checks
// only the fields the rules use, ignores unknown fields, and turns unknown kinds into `Unrecognized` so the
// stream skips them (and counts them) instead of failing.

interface EventBase {
  accountId: string;
  /** Per-account, from 1 (AccountOpened), no gaps in the ledger's log. */
  sequence: number;
  /** Event time, epoch milliseconds. Rules use it instead of the wall clock. */
  at: number;
}

type Money = EventBase & { cents: number };
type Transfer = Money & { transferId: string; counterpartyId: string };

export type LedgerEvent =
  | (EventBase & { kind: "AccountOpened" })
  | (Money & { kind: "Deposited" })
  | (Money & { kind: "Withdrawn" })
  | (Transfer & { kind: "TransferDebited" })
  | (Transfer & { kind: "TransferCredited" })
  | (Transfer & { kind: "TransferCompensated" })
  | { kind: "Unrecognized"; name: string };

export type Debit = Extract<LedgerEvent, { kind: "Withdrawn" | "TransferDebited" }>;

export type ParseResult = { ok: true; event: LedgerEvent } | { ok: false; reason: string };

type TransferKind = "TransferDebited" | "TransferCredited" | "TransferCompensated";
const transferKinds = new Set<string>(["TransferDebited", "TransferCredited", "TransferCompensated"] satisfies TransferKind[]);
const moneyKinds = new Set(["Deposited", "Withdrawn", ...transferKinds]);

export function isDebit(event: LedgerEvent): event is Debit {
  return event.kind === "Withdrawn" || event.kind === "TransferDebited";
}

/**
 * Reads the `data` of one ledger CloudEvent, as the SDK hands it over: usually an object, but a string or a
 * Buffer when the publisher did not send JSON.
 */
export function parseLedgerEvent(data: unknown): ParseResult {
  let body = data;
  if (Buffer.isBuffer(body)) {
    body = body.toString("utf8");
  }
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      return { ok: false, reason: "data is not JSON" };
    }
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, reason: "data is not a JSON object" };
  }

  const e = body as Record<string, unknown>;
  if (typeof e["kind"] !== "string" || e["kind"] === "") {
    return { ok: false, reason: "kind is missing" };
  }
  const kind = e["kind"];
  if (kind !== "AccountOpened" && !moneyKinds.has(kind)) {
    return { ok: true, event: { kind: "Unrecognized", name: kind } };
  }

  if (typeof e["accountId"] !== "string" || e["accountId"] === "") {
    return { ok: false, reason: "accountId is missing" };
  }
  if (typeof e["sequence"] !== "number" || !Number.isSafeInteger(e["sequence"]) || e["sequence"] < 1) {
    return { ok: false, reason: "sequence must be a whole number ≥ 1" };
  }
  const at = typeof e["occurredAt"] === "string" ? Date.parse(e["occurredAt"]) : Number.NaN;
  if (Number.isNaN(at)) {
    return { ok: false, reason: "occurredAt must be an ISO-8601 time" };
  }
  const base: EventBase = { accountId: e["accountId"], sequence: e["sequence"], at };

  if (kind === "AccountOpened") {
    return { ok: true, event: { ...base, kind } };
  }

  const amount = e["amount"];
  if (typeof amount !== "number" || !Number.isFinite(amount) || amount <= 0) {
    return { ok: false, reason: "amount must be a positive number" };
  }
  // Money is counted in cents so sums and comparisons are exact (amounts have at most 2 decimals).
  const cents = Math.round(amount * 100);
  if (cents === 0) {
    return { ok: false, reason: "amount must be at least 0.01" };
  }

  if (kind === "Deposited" || kind === "Withdrawn") {
    return { ok: true, event: { ...base, kind, cents } };
  }
  if (typeof e["transferId"] !== "string" || e["transferId"] === "") {
    return { ok: false, reason: "transferId is missing" };
  }
  if (typeof e["counterpartyId"] !== "string" || e["counterpartyId"] === "") {
    return { ok: false, reason: "counterpartyId is missing" };
  }
  return {
    ok: true,
    event: { ...base, kind: kind as TransferKind, cents, transferId: e["transferId"], counterpartyId: e["counterpartyId"] },
  };
}
