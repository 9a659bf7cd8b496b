// Every name this service shares with the rest of the platform. Components are named the same in every
// components/ folder (local, redis, kafka, pulsar), so switching the broker never touches this file.
export const PubSub = "pubsub";
export const StateStore = "statestore";

export const Topics = {
  /** Ledger's event stream, the system of record; Fraud reads it as its own consumer group (its app-id). */
  ledger: "ledger",
  /** Where FraudSuspected goes. */
  alerts: "alerts",
} as const;

/** CloudEvent `type` of what Fraud publishes, in the `<service>.<Event>` form Ledger uses. */
export const FraudSuspectedType = "fraud.FraudSuspected";
