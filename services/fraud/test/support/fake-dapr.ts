// An in-memory stand-in for the two DaprClient parts the stream uses, with the sidecar's ETag rules
// (first-write: the ETag must match; without one the key must not exist) and switches to make it fail.
import { setImmediate as tick } from "node:timers/promises";
import type { Dapr } from "../../src/stream.js";

interface SaveItem {
  key: string;
  value: unknown;
  etag?: string;
}

export class FakeDapr {
  readonly items = new Map<string, { json: string; version: number }>();
  readonly published: { pubsub: string; topic: string; data: unknown; metadata: Record<string, string> }[] = [];
  /** How many of the next reads / saves / publishes fail as an unreachable sidecar would. */
  failReads = 0;
  failSaves = 0;
  failPublishes = 0;

  readonly state = {
    getBulk: async (_store: string, keys: string[]) => {
      await tick(); // let other deliveries interleave, as real I/O would
      if (this.failReads > 0) {
        this.failReads--;
        throw new Error("connect ECONNREFUSED 127.0.0.1:3500");
      }
      return keys.map((key) => {
        const item = this.items.get(key);
        return item ? { key, data: JSON.parse(item.json) as unknown, etag: String(item.version) } : { key };
      });
    },
    save: async (_store: string, items: SaveItem[]) => {
      await tick();
      if (this.failSaves > 0) {
        this.failSaves--;
        return { error: new Error(JSON.stringify({ error: "Internal Server Error", status: 500 })) };
      }
      for (const item of items) {
        const current = this.items.get(item.key);
        if (item.etag ? current?.version !== Number(item.etag) : current !== undefined) {
          return { error: new Error(JSON.stringify({ error: "Conflict", status: 409 })) };
        }
      }
      for (const item of items) {
        this.items.set(item.key, { json: JSON.stringify(item.value), version: (this.items.get(item.key)?.version ?? 0) + 1 });
      }
      return {};
    },
  };

  readonly pubsub = {
    publish: async (pubsub: string, topic: string, data: unknown, options: { metadata?: Record<string, string> } = {}) => {
      await tick();
      if (this.failPublishes > 0) {
        this.failPublishes--;
        return { error: new Error("broker unavailable") };
      }
      this.published.push({ pubsub, topic, data: structuredClone(data), metadata: options.metadata ?? {} });
      return {};
    },
  };

  get<T>(key: string): T | undefined {
    const item = this.items.get(key);
    return item ? (JSON.parse(item.json) as T) : undefined;
  }

  asDapr(): Dapr {
    return this as unknown as Dapr;
  }
}
