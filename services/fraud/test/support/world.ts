// The stream's bookkeeping without the sidecar: account states in a map, events applied one by one through the
// same pure functions (duplicates skipped as the stream skips them), alerts collected.
import { applyEvent, isApplied, newAccount, type AccountState } from "../../src/account.js";
import type { FraudSuspected } from "../../src/alerts.js";
import { defaultRules, type RuleSettings } from "../../src/config.js";
import { parseLedgerEvent } from "../../src/events.js";

export class World {
  readonly accounts = new Map<string, AccountState>();
  readonly alerts: FraudSuspected[] = [];
  duplicates = 0;

  constructor(readonly rules: RuleSettings = defaultRules) {}

  deliver(...events: unknown[]): FraudSuspected[] {
    const raised: FraudSuspected[] = [];
    for (const data of events) {
      const parsed = parseLedgerEvent(data);
      if (!parsed.ok || parsed.event.kind === "Unrecognized") {
        throw new Error(`not a ledger event: ${JSON.stringify(data)}`);
      }
      const event = parsed.event;
      const account = this.accounts.get(event.accountId) ?? newAccount(event.accountId);
      if (isApplied(account, event.sequence)) {
        this.duplicates++;
        continue;
      }
      const outcome = applyEvent(account, event, this.rules, (id) => this.accounts.get(id));
      this.accounts.set(event.accountId, outcome.state);
      raised.push(...outcome.alerts);
    }
    this.alerts.push(...raised);
    return raised;
  }

  account(accountId: string): AccountState {
    const account = this.accounts.get(accountId);
    if (!account) {
      throw new Error(`no account ${accountId}`);
    }
    return account;
  }
}
