import { fraudSuspected, type FraudSuspected } from "./alerts.js";
import type { RuleSettings } from "./config.js";
import { isDebit, type LedgerEvent } from "./events.js";
import { unusualAmount } from "./rules/amount.js";
import { describeChain, newChains, type ChainFacts, type Hop, type Lookup } from "./rules/chain.js";
import { velocity } from "./rules/velocity.js";

/** One account as Fraud sees it: one state-store document, written with its ETag. */
export interface AccountState extends ChainFacts {
  accountId: string;
  /** Idempotency by (accountId, sequence): every sequence ≤ this has been applied ... */
  appliedThrough: number;
  /** ... and so have these, which arrived ahead of a gap (ascending). */
  appliedAbove: number[];
  openedAt: number | null;
  /** Recent debits, for the velocity window. */
  debits: { sequence: number; at: number; cents: number }[];
  /** Every debit so far, for the mean. */
  debitCount: number;
  debitTotalCents: number;
  lastVelocityAlertAt: number | null;
  hopsIn: Hop[];
  hopsOut: Hop[];
  /**
   * Alerts saved together with the event that raised them and not yet published: an outbox, so an alert is
   * neither lost (crash after the save) nor raised twice (the redelivered event is a duplicate).
   */
  pendingAlerts: FraudSuspected[];
}

export type Outcome = { state: AccountState; alerts: FraudSuspected[] };

// Sequences that never arrive (an event dropped as malformed, or history older than this service) would
// otherwise keep the watermark down for ever; past this many early arrivals it moves up to them.
const maxAppliedAbove = 64;
const maxDebitsKept = 1_000;
const maxHopsKept = 64;

export function newAccount(accountId: string): AccountState {
  return {
    accountId,
    appliedThrough: 0,
    appliedAbove: [],
    openedAt: null,
    debits: [],
    debitCount: 0,
    debitTotalCents: 0,
    lastVelocityAlertAt: null,
    hopsIn: [],
    hopsOut: [],
    pendingAlerts: [],
  };
}

export function isApplied(state: AccountState, sequence: number): boolean {
  return sequence <= state.appliedThrough || state.appliedAbove.includes(sequence);
}

function markApplied(state: AccountState, sequence: number): Pick<AccountState, "appliedThrough" | "appliedAbove"> {
  let through = state.appliedThrough;
  const above = [...state.appliedAbove, sequence].sort((a, b) => a - b);
  if (above.length > maxAppliedAbove) {
    through = above[0]! - 1;
  }
  while (above[0] === through + 1) {
    through++;
    above.shift();
  }
  return { appliedThrough: through, appliedAbove: above };
}

/**
 * Applies one new ledger event (not yet applied: see isApplied) to its account and runs the rules.
 * Pure: `lookup` gives other accounts' facts for the chain rule. Event time only, never the wall clock.
 */
export function applyEvent(
  state: AccountState,
  event: Exclude<LedgerEvent, { kind: "Unrecognized" }>,
  rules: RuleSettings,
  lookup: Lookup,
): Outcome {
  const next: AccountState = { ...state, ...markApplied(state, event.sequence) };
  const alerts: FraudSuspected[] = [];
  const { accountId, sequence, at } = event;

  if (event.kind === "AccountOpened") {
    next.openedAt = at;
  } else if (event.kind === "TransferCredited") {
    next.hopsIn = [...state.hopsIn, { transferId: event.transferId, counterpartyId: event.counterpartyId, at, sequence }];
  } else if (event.kind === "TransferDebited") {
    next.hopsOut = [...state.hopsOut, { transferId: event.transferId, counterpartyId: event.counterpartyId, at, sequence }];
  }

  if (isDebit(event)) {
    const times = [...state.debits.map((d) => d.at), at];
    const burst = velocity(times, at, state.lastVelocityAlertAt, rules);
    if (burst) {
      alerts.push(
        fraudSuspected("velocity", accountId, sequence, at, {
          debits: burst.debits,
          windowSeconds: rules.velocityWindowMs / 1000,
          max: rules.velocityMax,
        }),
      );
      next.lastVelocityAlertAt = at;
    }

    const unusual = unusualAmount(event.cents, { count: state.debitCount, totalCents: state.debitTotalCents }, rules);
    if (unusual) {
      alerts.push(
        fraudSuspected("unusual-amount", accountId, sequence, at, {
          amount: event.cents / 100,
          meanDebit: Math.round(unusual.meanCents) / 100,
          factor: rules.amountFactor,
          earlierDebits: state.debitCount,
        }),
      );
    }

    next.debitCount = state.debitCount + 1;
    next.debitTotalCents = state.debitTotalCents + event.cents;
    next.debits = recentDebits([...state.debits, { sequence, at, cents: event.cents }], rules);
  }

  if (event.kind === "AccountOpened" || event.kind === "TransferCredited" || event.kind === "TransferDebited") {
    next.hopsIn = chainHops(next.hopsIn, next.openedAt, rules.chainFreshMs);
    next.hopsOut = chainHops(next.hopsOut, next.openedAt, rules.chainFreshMs + rules.chainWindowMs);
    for (const chain of newChains(state, next, lookup, rules)) {
      const last = chain[chain.length - 1]!;
      alerts.push(fraudSuspected("fresh-account-chain", last.accountId, last.out.sequence, last.out.at, describeChain(chain)));
    }
  }

  return { state: next, alerts };
}

/** Debits that can still share a window with a new (or slightly late) one. */
function recentDebits(debits: AccountState["debits"], rules: RuleSettings): AccountState["debits"] {
  const newest = Math.max(...debits.map((d) => d.at));
  return debits
    .filter((d) => d.at >= newest - 2 * rules.velocityWindowMs)
    .sort((a, b) => a.at - b.at)
    .slice(-maxDebitsKept);
}

/**
 * Hops that can still be part of a chain: only a fresh account passes money on, so once the opening time is
 * known, hops later than `freshFor` after it are dropped. Until then, the newest few are kept.
 */
function chainHops(hops: Hop[], openedAt: number | null, freshFor: number): Hop[] {
  const relevant = openedAt === null ? hops : hops.filter((h) => h.at - openedAt <= freshFor);
  return [...relevant].sort((a, b) => a.at - b.at).slice(-maxHopsKept);
}
