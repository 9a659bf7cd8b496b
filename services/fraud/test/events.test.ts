import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseLedgerEvent } from "../src/events.js";
import { opened, t0, transfer, withdrawn } from "./support/events.js";

const reason = (data: unknown) => {
  const parsed = parseLedgerEvent(data);
  return parsed.ok ? "ok" : parsed.reason;
};

describe("reading ledger events", () => {
  test("reads the contract's example", () => {
    const parsed = parseLedgerEvent({
      kind: "Deposited",
      accountId: "acc-1",
      sequence: 3,
      amount: 25.0,
      reference: "client-ref-17",
      occurredAt: "2026-11-24T02:40:00Z",
    });
    assert.deepEqual(parsed, { ok: true, event: { kind: "Deposited", accountId: "acc-1", sequence: 3, at: t0, cents: 2_500 } });
  });

  test("reads JSON text and ignores unknown fields", () => {
    const parsed = parseLedgerEvent(JSON.stringify({ ...withdrawn("a", 2, 0.1, "2026-11-24T02:40:00Z"), channel: "atm" }));
    assert.deepEqual(parsed, { ok: true, event: { kind: "Withdrawn", accountId: "a", sequence: 2, at: t0, cents: 10 } });
  });

  test("reads transfers with their counterparty", () => {
    const parsed = parseLedgerEvent(transfer("TransferDebited", "a", 4, "b", "tr-1", "2026-11-24T02:40:00Z", 12.34));
    assert.deepEqual(parsed, {
      ok: true,
      event: { kind: "TransferDebited", accountId: "a", sequence: 4, at: t0, cents: 1_234, transferId: "tr-1", counterpartyId: "b" },
    });
  });

  test("an unknown kind is recognised as such, not rejected", () => {
    assert.deepEqual(parseLedgerEvent({ kind: "InterestAccrued", accountId: "a" }), { ok: true, event: { kind: "Unrecognized", name: "InterestAccrued" } });
  });

  test("rejects what cannot be applied", () => {
    const good = withdrawn("a", 2, 10, "2026-11-24T02:40:00Z");
    assert.equal(reason("{not json"), "data is not JSON");
    assert.equal(reason("[1,2]"), "data is not a JSON object");
    assert.equal(reason(42), "data is not a JSON object");
    assert.equal(reason({ ...good, kind: undefined }), "kind is missing");
    assert.equal(reason({ ...good, accountId: "" }), "accountId is missing");
    assert.equal(reason({ ...good, sequence: 0 }), "sequence must be a whole number ≥ 1");
    assert.equal(reason({ ...good, sequence: 2.5 }), "sequence must be a whole number ≥ 1");
    assert.equal(reason({ ...good, sequence: "2" }), "sequence must be a whole number ≥ 1");
    assert.equal(reason({ ...good, occurredAt: "yesterday" }), "occurredAt must be an ISO-8601 time");
    assert.equal(reason({ ...good, amount: -5 }), "amount must be a positive number");
    assert.equal(reason({ ...good, amount: 0 }), "amount must be a positive number");
    assert.equal(reason({ ...good, amount: "10" }), "amount must be a positive number");
    assert.equal(reason({ ...good, amount: 0.001 }), "amount must be at least 0.01");
    assert.equal(reason({ ...transfer("TransferCredited", "a", 2, "b", "t", "2026-11-24T02:40:00Z"), counterpartyId: undefined }), "counterpartyId is missing");
    assert.equal(reason({ ...transfer("TransferCredited", "a", 2, "b", "t", "2026-11-24T02:40:00Z"), transferId: 7 }), "transferId is missing");
  });

  test("AccountOpened needs no amount", () => {
    assert.equal(reason(opened("a", 1, "2026-11-24T02:40:00Z")), "ok");
  });
});
