import type { RuleSettings } from "../config.js";

/**
 * Unusual amount: a debit of more than `amountFactor` × the mean of the account's earlier debits, once there
 * are at least `amountMinHistory` of them. Exactly factor × mean does not fire.
 */
export function unusualAmount(
  cents: number,
  earlier: { count: number; totalCents: number },
  rules: Pick<RuleSettings, "amountFactor" | "amountMinHistory">,
): { meanCents: number } | null {
  if (earlier.count < rules.amountMinHistory) {
    return null;
  }
  // cents > factor × total / count, multiplied out so whole-cent amounts compare exactly.
  if (cents * earlier.count <= rules.amountFactor * earlier.totalCents) {
    return null;
  }
  return { meanCents: earlier.totalCents / earlier.count };
}
