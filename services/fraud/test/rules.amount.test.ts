import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultRules } from "../src/config.js";
import { unusualAmount } from "../src/rules/amount.js";

const rules = { amountFactor: 10, amountMinHistory: 3 };
const history = (count: number, totalCents: number) => ({ count, totalCents });

describe("unusual amount", () => {
  test("defaults are 10 × the mean after 3 debits", () => {
    assert.equal(defaultRules.amountFactor, 10);
    assert.equal(defaultRules.amountMinHistory, 3);
  });

  test("does not fire before the account has enough history", () => {
    assert.equal(unusualAmount(1_000_000, history(2, 2_000), rules), null);
  });

  test("exactly factor × the mean does not fire", () => {
    // mean 10.00, debit 100.00
    assert.equal(unusualAmount(10_000, history(3, 3_000), rules), null);
  });

  test("one cent above factor × the mean fires", () => {
    assert.deepEqual(unusualAmount(10_001, history(3, 3_000), rules), { meanCents: 1_000 });
  });

  test("the mean is over every earlier debit", () => {
    // debits 5, 10, 15 → mean 10.00
    assert.equal(unusualAmount(10_000, history(3, 3_000), rules), null);
    assert.notEqual(unusualAmount(10_000, history(4, 3_000), rules), null); // mean 7.50
  });

  test("the factor and the minimum history come from the settings", () => {
    const custom = { amountFactor: 2.5, amountMinHistory: 1 };
    assert.equal(unusualAmount(2_500, history(1, 1_000), custom), null);
    assert.deepEqual(unusualAmount(2_501, history(1, 1_000), custom), { meanCents: 1_000 });
  });
});
