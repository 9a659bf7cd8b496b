// Ledger events as Ledger publishes them (the contract's JSON), for the tests.
export const t0 = Date.parse("2026-11-24T02:40:00Z");
export const seconds = (s: number) => new Date(t0 + s * 1000).toISOString();
export const minutes = (m: number) => seconds(m * 60);

export const opened = (accountId: string, sequence: number, occurredAt: string) => ({
  kind: "AccountOpened",
  accountId,
  sequence,
  owner: "user-1",
  reference: `open-${accountId}`,
  occurredAt,
});

export const withdrawn = (accountId: string, sequence: number, amount: number, occurredAt: string) => ({
  kind: "Withdrawn",
  accountId,
  sequence,
  amount,
  reference: `w-${sequence}`,
  occurredAt,
});

export const transfer = (
  kind: "TransferDebited" | "TransferCredited",
  accountId: string,
  sequence: number,
  counterpartyId: string,
  transferId: string,
  occurredAt: string,
  amount = 100,
) => ({ kind, accountId, sequence, amount, reference: transferId, transferId, counterpartyId, occurredAt });
