import type { RuleSettings } from "../config.js";

/** One side of a transfer as one account's own stream saw it (TransferCredited in, TransferDebited out). */
export interface Hop {
  transferId: string;
  counterpartyId: string;
  at: number;
  sequence: number;
}

/** What the chain rule knows of one account: only facts from that account's own events. */
export interface ChainFacts {
  accountId: string;
  openedAt: number | null;
  hopsIn: readonly Hop[];
  hopsOut: readonly Hop[];
}

/** Money reached a fresh account by `in` and left it by `out` soon after: one link of a chain. */
export interface PassThrough {
  accountId: string;
  in: Hop;
  out: Hop;
}

/** Consecutive pass-throughs; a chain of n pass-throughs is n + 1 transfers. */
export type Chain = readonly PassThrough[];

/** Another account's facts, or undefined when it has none. */
export type Lookup = (accountId: string) => ChainFacts | undefined;

type ChainRules = Pick<RuleSettings, "chainLength" | "chainFreshMs" | "chainWindowMs">;

// Bounds on the walk, so a pathological graph cannot make one event expensive.
const maxLinks = 32;
const maxPaths = 256;

const key = (p: PassThrough) => `${p.in.transferId}\u0000${p.out.transferId}`;

/** `next` passes on the money `previous` sent: the same transfer, seen from both of its accounts. */
const links = (previous: PassThrough, next: PassThrough) =>
  previous.out.transferId === next.in.transferId &&
  previous.out.counterpartyId === next.accountId &&
  next.in.counterpartyId === previous.accountId;

/**
 * The account's pass-throughs: money in at most `chainFreshMs` after the account was opened, and out again
 * at most `chainWindowMs` after it came in.
 */
export function passThroughs(facts: ChainFacts, rules: ChainRules): PassThrough[] {
  const { openedAt } = facts;
  if (openedAt === null) {
    return [];
  }
  const passes: PassThrough[] = [];
  for (const hopIn of facts.hopsIn) {
    if (hopIn.at - openedAt > rules.chainFreshMs) {
      continue;
    }
    for (const hopOut of facts.hopsOut) {
      const gap = hopOut.at - hopIn.at;
      if (gap >= 0 && gap <= rules.chainWindowMs) {
        passes.push({ accountId: facts.accountId, in: hopIn, out: hopOut });
      }
    }
  }
  return passes;
}

/**
 * Chains of at least `chainLength` transfers that exist in `after` but not in `before` (the same account's
 * facts before and after one event), each ending at a different last pass-through. The walk reads other
 * accounts through `lookup`, backwards from where the money came and forwards to where it went, so a chain
 * is found by whichever of its events is processed last, in any order.
 */
export function newChains(before: ChainFacts, after: ChainFacts, lookup: Lookup, rules: ChainRules): Chain[] {
  const known = new Set(passThroughs(before, rules).map(key));
  const added = passThroughs(after, rules).filter((p) => !known.has(key(p)));
  if (added.length === 0) {
    return [];
  }

  const facts = (accountId: string) => (accountId === after.accountId ? after : lookup(accountId));
  const passesOf = (accountId: string) => {
    const f = facts(accountId);
    return f ? passThroughs(f, rules) : [];
  };

  // The longest run of pass-throughs that ends with `last`.
  const longestTo = (last: PassThrough, seen: Set<string>): PassThrough[] => {
    let best: PassThrough[] = [];
    if (seen.size < maxLinks) {
      for (const p of passesOf(last.in.counterpartyId)) {
        if (links(p, last) && !seen.has(key(p))) {
          const run = longestTo(p, new Set(seen).add(key(p)));
          if (run.length > best.length) {
            best = run;
          }
        }
      }
    }
    return [...best, last];
  };

  // Every run of pass-throughs that starts with `first` (within a budget).
  let budget = maxPaths;
  const runsFrom = (first: PassThrough, seen: Set<string>): PassThrough[][] => {
    const runs: PassThrough[][] = [[first]];
    if (seen.size >= maxLinks) {
      return runs;
    }
    for (const p of passesOf(first.out.counterpartyId)) {
      if (budget <= 0) {
        break;
      }
      if (links(first, p) && !seen.has(key(p))) {
        budget--;
        for (const tail of runsFrom(p, new Set(seen).add(key(p)))) {
          runs.push([first, ...tail]);
        }
      }
    }
    return runs;
  };

  const byLast = new Map<string, PassThrough[]>();
  for (const pass of added) {
    const head = longestTo(pass, new Set([key(pass)])).slice(0, -1);
    for (const run of runsFrom(pass, new Set([key(pass), ...head.map(key)]))) {
      const chain = [...head, ...run];
      const last = chain[chain.length - 1]!;
      if (chain.length + 1 >= rules.chainLength && (byLast.get(key(last))?.length ?? 0) < chain.length) {
        byLast.set(key(last), chain);
      }
    }
  }
  return [...byLast.values()];
}

/** The accounts money went through, from the first sender to the last receiver. */
export function describeChain(chain: Chain): { accounts: string[]; transferIds: string[]; transfers: number } {
  const first = chain[0]!;
  const last = chain[chain.length - 1]!;
  return {
    accounts: [first.in.counterpartyId, ...chain.map((p) => p.accountId), last.out.counterpartyId],
    transferIds: [first.in.transferId, ...chain.map((p) => p.out.transferId)],
    transfers: chain.length + 1,
  };
}
