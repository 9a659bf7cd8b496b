import type { RuleSettings } from "../config.js";

/**
 * The most debits that fit in one window of `windowMs` (both ends inclusive) that also holds `at`.
 * Looking at every window around `at`, not only the one ending there, keeps the rule right when events of
 * one account arrive out of order (the sidecar delivers with several workers, like Dapr's Redis component).
 */
export function busiestWindow(times: readonly number[], at: number, windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let busiest = 0;
  let end = 0;
  // The busiest such window can always start at a debit that lies in [at - window, at]; as the start moves
  // right, the window's last debit only moves right too.
  for (let first = 0; first < sorted.length; first++) {
    const start = sorted[first]!;
    if (start < at - windowMs || start > at) {
      continue;
    }
    end = Math.max(end, first);
    while (end + 1 < sorted.length && sorted[end + 1]! <= start + windowMs) {
      end++;
    }
    busiest = Math.max(busiest, end - first + 1);
  }
  return busiest;
}

/**
 * Velocity: more than `velocityMax` debits within `velocityWindowMs` of event time. `times` holds the
 * account's recent debit times including the new one at `at`. One alert per burst: none if the account's
 * previous velocity alert is within a window of this debit.
 */
export function velocity(
  times: readonly number[],
  at: number,
  lastAlertAt: number | null,
  rules: Pick<RuleSettings, "velocityMax" | "velocityWindowMs">,
): { debits: number } | null {
  const debits = busiestWindow(times, at, rules.velocityWindowMs);
  if (debits <= rules.velocityMax) {
    return null;
  }
  if (lastAlertAt !== null && Math.abs(at - lastAlertAt) <= rules.velocityWindowMs) {
    return null;
  }
  return { debits };
}
