import { DaprPubSubStatusEnum, StateConcurrencyEnum, StateConsistencyEnum, type DaprClient } from "@dapr/dapr";
import { applyEvent, isApplied, newAccount, type AccountState, type Outcome } from "./account.js";
import { withRecent, type FraudSuspected } from "./alerts.js";
import type { RuleSettings } from "./config.js";
import { parseLedgerEvent, type LedgerEvent } from "./events.js";
import { log } from "./log.js";
import { FraudSuspectedType, PubSub, StateStore, Topics } from "./names.js";

/** The part of DaprClient this service calls; tests hand in a fake of the same shape. */
export type Dapr = {
  state: Pick<DaprClient["state"], "getBulk" | "save">;
  pubsub: Pick<DaprClient["pubsub"], "publish">;
};

export const accountKey = (accountId: string) => `account-${accountId}`;
export const recentAlertsKey = "alerts-recent";

export interface RecentAlerts {
  /** Newest first. */
  alerts: FraudSuspected[];
}

/** Counters since start, served on GET /stats. */
export interface Stats {
  processed: number;
  duplicates: number;
  dropped: number;
  /** Events of kinds this reader does not know (tolerant reader: skipped, counted). */
  unrecognized: number;
  retried: number;
  etagConflicts: number;
  alertsPublished: number;
}

/** The sidecar (state store, broker) failed or is unreachable: worth a redelivery. */
export class SidecarError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SidecarError";
  }
}

type Ledger = Exclude<LedgerEvent, { kind: "Unrecognized" }>;
type Stored<T> = { value: T | undefined; etag: string | undefined };

// ETag conflicts mean another replica (or worker) wrote the same key in between: read again and redo.
const maxAttempts = 10;
// Each round of chain look-ups reads the accounts the previous round found it needed.
const maxLookupRounds = 8;

/** Reads keys with their ETags (the bulk API is the one that returns ETags). */
export async function read<T>(dapr: Dapr, keys: readonly string[]): Promise<Map<string, Stored<T>>> {
  let items: { key: string; data?: unknown; etag?: string; error?: string }[];
  try {
    items = (await dapr.state.getBulk(StateStore, [...keys])) as typeof items;
  } catch (e) {
    throw new SidecarError(`reading ${keys.join(", ")} failed`, { cause: e });
  }
  const found = new Map<string, Stored<T>>();
  for (const item of items) {
    if (item.error) {
      throw new SidecarError(`reading ${item.key} failed: ${item.error}`);
    }
    const present = item.data !== undefined && item.data !== null && item.data !== "";
    found.set(item.key, { value: present ? (item.data as T) : undefined, etag: item.etag || undefined });
  }
  for (const key of keys) {
    if (!found.has(key)) {
      found.set(key, { value: undefined, etag: undefined });
    }
  }
  return found;
}

/**
 * First-write: succeeds only if the key still has `etag` (or, without one, does not exist yet). False when
 * someone else wrote first.
 */
export async function writeIfUnchanged(dapr: Dapr, key: string, value: unknown, etag: string | undefined): Promise<boolean> {
  let result: { error?: Error };
  try {
    result = await dapr.state.save(StateStore, [
      {
        key,
        value,
        ...(etag ? { etag } : {}),
        options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE, consistency: StateConsistencyEnum.CONSISTENCY_STRONG },
      },
    ]);
  } catch (e) {
    throw new SidecarError(`saving ${key} failed`, { cause: e });
  }
  if (!result.error) {
    return true;
  }
  if (statusOf(result.error) === 409) {
    return false;
  }
  throw new SidecarError(`saving ${key} failed`, { cause: result.error });
}

// The SDK reports HTTP errors as an Error whose message is JSON with the status.
function statusOf(error: Error): number | undefined {
  try {
    const body = JSON.parse(error.message) as { status?: unknown };
    return typeof body.status === "number" ? body.status : undefined;
  } catch {
    return undefined;
  }
}

/** The stream function: ledger events in, FraudSuspected out. */
export class FraudStream {
  readonly stats: Stats = { processed: 0, duplicates: 0, dropped: 0, unrecognized: 0, retried: 0, etagConflicts: 0, alertsPublished: 0 };

  // One account's events run one at a time in this process (no ETag conflicts between our own workers);
  // the ETags still guard against other replicas.
  private readonly turns = new Map<string, Promise<unknown>>();

  constructor(
    private readonly dapr: Dapr,
    private readonly rules: RuleSettings,
  ) {}

  /** Handles one delivery: SUCCESS when applied or a duplicate, DROP when it can never apply, RETRY when the sidecar failed. */
  async onLedgerEvent(data: unknown): Promise<DaprPubSubStatusEnum> {
    const parsed = parseLedgerEvent(data);
    if (!parsed.ok) {
      this.stats.dropped++;
      log.warn("dropping a malformed ledger event", { reason: parsed.reason, data: preview(data) });
      return DaprPubSubStatusEnum.DROP;
    }
    const event = parsed.event;
    if (event.kind === "Unrecognized") {
      this.stats.unrecognized++;
      log.info("skipping a ledger event of an unknown kind", { kind: event.name });
      return DaprPubSubStatusEnum.SUCCESS;
    }

    try {
      await this.inTurn(event.accountId, () => this.apply(event));
      return DaprPubSubStatusEnum.SUCCESS;
    } catch (e) {
      if (e instanceof SidecarError) {
        this.stats.retried++;
        log.warn("asking for redelivery", { accountId: event.accountId, sequence: event.sequence, error: e, cause: e.cause });
        return DaprPubSubStatusEnum.RETRY;
      }
      // A bug, not a bad sidecar: redelivering would fail the same way for ever and hold up the stream.
      this.stats.dropped++;
      log.error("dropping a ledger event that failed to apply", { accountId: event.accountId, sequence: event.sequence, error: e });
      return DaprPubSubStatusEnum.DROP;
    }
  }

  private async apply(event: Ledger): Promise<void> {
    const key = accountKey(event.accountId);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const { value, etag } = (await read<AccountState>(this.dapr, [key])).get(key)!;
      const account = value ?? newAccount(event.accountId);
      if (isApplied(account, event.sequence)) {
        this.stats.duplicates++;
        log.debug("duplicate ledger event", { accountId: event.accountId, sequence: event.sequence });
        // The first delivery may have saved its alerts and then failed to publish them.
        await this.publishPending(event.accountId);
        return;
      }

      const { state, alerts } = await this.evaluate(account, event);
      const saved = await writeIfUnchanged(this.dapr, key, { ...state, pendingAlerts: [...account.pendingAlerts, ...alerts] }, etag);
      if (!saved) {
        this.stats.etagConflicts++;
        continue;
      }
      await this.publishPending(event.accountId);
      this.stats.processed++;
      return;
    }
    throw new SidecarError(`gave up on ${key} after ${maxAttempts} ETag conflicts`);
  }

  /** Runs the rules, reading the other accounts the chain rule asks for until it has them all. */
  private async evaluate(account: AccountState, event: Ledger): Promise<Outcome> {
    const others = new Map<string, AccountState | undefined>();
    for (let round = 1; ; round++) {
      const missing = new Set<string>();
      const outcome = applyEvent(account, event, this.rules, (accountId) => {
        if (!others.has(accountId)) {
          missing.add(accountId);
        }
        return others.get(accountId);
      });
      if (missing.size === 0 || round === maxLookupRounds) {
        return outcome;
      }
      const loaded = await read<AccountState>(this.dapr, [...missing].map(accountKey));
      for (const accountId of missing) {
        others.set(accountId, loaded.get(accountKey(accountId))?.value);
      }
    }
  }

  /** Publishes the account's outbox, adds it to the recent list, then empties it. */
  private async publishPending(accountId: string): Promise<void> {
    const key = accountKey(accountId);
    const pending = (await read<AccountState>(this.dapr, [key])).get(key)?.value?.pendingAlerts ?? [];
    if (pending.length === 0) {
      return;
    }
    for (const alert of pending) {
      // The CloudEvent id is the alertId, so a consumer can drop a repeat by id whatever it keeps.
      const result = await this.dapr.pubsub
        .publish(PubSub, Topics.alerts, alert, { metadata: { "cloudevent.type": FraudSuspectedType, "cloudevent.id": alert.alertId } })
        .catch((e: unknown) => ({ error: e }));
      if (result.error) {
        throw new SidecarError(`publishing alert ${alert.alertId} failed`, { cause: result.error });
      }
      this.stats.alertsPublished++;
      log.info("fraud suspected", { ...alert });
    }

    await this.update<RecentAlerts>(recentAlertsKey, (recent) => ({ alerts: withRecent(recent?.alerts ?? [], pending) }));
    const published = new Set(pending.map((a) => a.alertId));
    await this.update<AccountState>(key, (account) =>
      account ? { ...account, pendingAlerts: account.pendingAlerts.filter((a) => !published.has(a.alertId)) } : undefined,
    );
  }

  /** Read, change, write with the ETag; again from the read when another writer came first. */
  private async update<T>(key: string, change: (current: T | undefined) => T | undefined): Promise<void> {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const { value, etag } = (await read<T>(this.dapr, [key])).get(key)!;
      const next = change(value);
      if (next === undefined || (await writeIfUnchanged(this.dapr, key, next, etag))) {
        return;
      }
      this.stats.etagConflicts++;
    }
    throw new SidecarError(`gave up on ${key} after ${maxAttempts} ETag conflicts`);
  }

  private inTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
    const run = (this.turns.get(key) ?? Promise.resolve()).then(work, work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.turns.set(key, settled);
    void settled.then(() => {
      if (this.turns.get(key) === settled) {
        this.turns.delete(key);
      }
    });
    return run;
  }
}

function preview(data: unknown): string {
  const text = typeof data === "string" ? data : Buffer.isBuffer(data) ? data.toString("utf8") : JSON.stringify(data) ?? String(data);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
