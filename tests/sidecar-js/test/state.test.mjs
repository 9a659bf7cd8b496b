// State API through the SDK's DaprClient, over HTTP and gRPC, on state.in-memory and state.redis.
// With DAPR_CONFORMANCE_HTTP_ENDPOINT set, the same tests run against that daprd instead (see README.md).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CommunicationProtocolEnum } from "@dapr/dapr";
import { GrpcCode, Harness, component, errorInfoReason, httpError, unique } from "./fixture.mjs";

const externalHttp = process.env.DAPR_CONFORMANCE_HTTP_ENDPOINT;
const externalGrpc = process.env.DAPR_CONFORMANCE_GRPC_ENDPOINT;
const external = Boolean(externalHttp);

const stores = external
  ? [{ label: `store ${process.env.DAPR_CONFORMANCE_STATE_STORE || "statestore"} of ${externalHttp}`, name: process.env.DAPR_CONFORMANCE_STATE_STORE || "statestore" }]
  : [
      { label: "state.in-memory", name: "memstore", type: "state.in-memory" },
      { label: "state.redis", name: "redisstore", type: "state.redis" },
    ];
const protocols = external && !externalGrpc ? ["HTTP"] : ["HTTP", "GRPC"];

const h = new Harness("state");
const clients = {};

before(async () => {
  if (external) {
    clients.HTTP = h.clientForEndpoint(externalHttp);
    if (externalGrpc) clients.GRPC = h.clientForEndpoint(externalGrpc, CommunicationProtocolEnum.GRPC);
    return;
  }
  const redis = await h.startRedis();
  const dir = h.components("state", {
    "memstore.yaml": component("memstore", "state.in-memory"),
    "redisstore.yaml": component("redisstore", "state.redis", { redisHost: redis.host }),
  });
  const sidecar = await h.startSidecar({ appId: "state-tests", resources: [dir] });
  clients.HTTP = h.client(sidecar, CommunicationProtocolEnum.HTTP);
  clients.GRPC = h.client(sidecar, CommunicationProtocolEnum.GRPC);
});

after(() => h.close());

// The two SDK clients report failures differently: the HTTP client's save/delete resolve to {error}
// (an Error whose message is JSON with daprd's status and body) while get/transaction throw it; the gRPC
// client throws a ConnectError carrying the gRPC status code.
const expectations = {
  HTTP: {
    async saveOk(c, store, items) {
      const r = await c.state.save(store, items);
      assert.equal(r.error, undefined, `save failed: ${r.error?.message}`);
    },
    async saveConflict(c, store, items) {
      const r = await c.state.save(store, items);
      assert.ok(r.error, "a save with a stale ETag must fail");
      const e = httpError(r.error);
      assert.equal(e.status, 409, e.text);
      assert.equal(e.errorCode, "ERR_STATE_SAVE", e.text);
    },
    async deleteOk(c, store, key, options) {
      const r = await c.state.delete(store, key, options);
      assert.equal(r.error, undefined, `delete failed: ${r.error?.message}`);
    },
    async deleteConflict(c, store, key, options) {
      const r = await c.state.delete(store, key, options);
      assert.ok(r.error, "a delete with a wrong ETag must fail");
      const e = httpError(r.error);
      assert.equal(e.status, 409, e.text);
      assert.equal(e.errorCode, "ERR_STATE_DELETE", e.text);
    },
    async transactionFails(c, store, ops) {
      await assert.rejects(c.state.transaction(store, ops), (err) => {
        const e = httpError(err);
        assert.equal(e.status, 500, e.text);
        assert.equal(e.errorCode, "ERR_STATE_TRANSACTION", e.text);
        return true;
      });
    },
    async unknownStore(c, store) {
      const matches = (err) => {
        const e = httpError(err);
        assert.match(e.text, /ERR_STATE_STORE_NOT_FOUND/);
        assert.equal(e.errorCode, "ERR_STATE_STORE_NOT_FOUND", e.text);
        assert.equal(e.status, 400, e.text);
        return true;
      };
      await assert.rejects(c.state.get(store, "k"), matches);
      const saved = await c.state.save(store, [{ key: "k", value: 1 }]);
      assert.ok(saved.error, "saving to an unknown store must fail");
      matches(saved.error);
    },
    // The HTTP client sends transaction values as JSON.
    txValue: (v) => v,
  },
  GRPC: {
    async saveOk(c, store, items) {
      await c.state.save(store, items);
    },
    async saveConflict(c, store, items) {
      await assert.rejects(c.state.save(store, items), (e) => e.code === GrpcCode.Aborted || assert.fail(`expected ABORTED, got ${e}`));
    },
    async deleteOk(c, store, key, options) {
      await c.state.delete(store, key, options);
    },
    async deleteConflict(c, store, key, options) {
      await assert.rejects(c.state.delete(store, key, options), (e) => e.code === GrpcCode.Aborted || assert.fail(`expected ABORTED, got ${e}`));
    },
    async transactionFails(c, store, ops) {
      await assert.rejects(c.state.transaction(store, ops), (e) => e.code === GrpcCode.Internal || assert.fail(`expected INTERNAL, got ${e}`));
    },
    async unknownStore(c, store) {
      // Over gRPC daprd sends no errorCode string: the status is INVALID_ARGUMENT with an ErrorInfo whose
      // reason is DAPR_STATE_NOT_FOUND, and the message names the store.
      const matches = (e) => {
        assert.equal(e.code, GrpcCode.InvalidArgument, String(e));
        assert.equal(errorInfoReason(e), "DAPR_STATE_NOT_FOUND", String(e));
        assert.match(e.message, new RegExp(`state store ${store} is not found`));
        return true;
      };
      await assert.rejects(c.state.get(store, "k"), matches);
      await assert.rejects(c.state.save(store, [{ key: "k", value: 1 }]), matches);
    },
    // The gRPC client sends a transaction value as Buffer.from(value): it must be a string.
    txValue: (v) => JSON.stringify(v),
  },
};

async function etagOf(c, store, key) {
  const [item] = await c.state.getBulk(store, [key]);
  assert.equal(item.key, key);
  assert.ok(item.etag, `no ETag for ${key}: ${JSON.stringify(item)}`);
  return item.etag;
}

for (const store of stores) {
  for (const protocol of protocols) {
    describe(`state on ${store.label} over ${protocol}`, () => {
      const x = expectations[protocol];
      const c = () => clients[protocol];

      it("saves, gets and deletes JSON and string values", async () => {
        const key = unique("roundtrip");
        const text = unique("text");
        const value = { name: "Ada", n: 1, tags: ["a", "b"], nested: { ok: true } };
        await x.saveOk(c(), store.name, [
          { key, value },
          { key: `${key}-s`, value: text },
        ]);
        assert.deepEqual(await c().state.get(store.name, key), value);
        assert.equal(await c().state.get(store.name, `${key}-s`), text);

        await x.saveOk(c(), store.name, [{ key, value: { ...value, n: 2 } }]);
        assert.equal((await c().state.get(store.name, key)).n, 2);

        await x.deleteOk(c(), store.name, key);
        await x.deleteOk(c(), store.name, `${key}-s`);
        assert.equal(await c().state.get(store.name, key), "");
        assert.equal(await c().state.get(store.name, `${key}-s`), "");
      });

      it("a get of a key never written is empty", async () => {
        assert.equal(await c().state.get(store.name, unique("never")), "");
      });

      it("a save with the current ETag succeeds and one with a stale ETag is rejected", async () => {
        const key = unique("etag-save");
        await x.saveOk(c(), store.name, [{ key, value: { v: 1 } }]);
        const first = await etagOf(c(), store.name, key);

        await x.saveOk(c(), store.name, [{ key, value: { v: 2 }, etag: first }]);
        const second = await etagOf(c(), store.name, key);
        assert.notEqual(second, first, "every write must change the ETag");

        await x.saveConflict(c(), store.name, [{ key, value: { v: 3 }, etag: first }]);
        assert.deepEqual(await c().state.get(store.name, key), { v: 2 }, "a rejected save must not write");
        assert.equal(await etagOf(c(), store.name, key), second);
      });

      it("a delete with a wrong ETag fails and keeps the value; with the current ETag it deletes", async () => {
        const key = unique("etag-delete");
        await x.saveOk(c(), store.name, [{ key, value: "v1" }]);
        const stale = await etagOf(c(), store.name, key);
        await x.saveOk(c(), store.name, [{ key, value: "v2" }]);
        const current = await etagOf(c(), store.name, key);

        await x.deleteConflict(c(), store.name, key, { etag: stale });
        assert.equal(await c().state.get(store.name, key), "v2", "a rejected delete must not delete");

        await x.deleteOk(c(), store.name, key, { etag: current });
        assert.equal(await c().state.get(store.name, key), "");
      });

      // contrib's stores differ here and daprd passes that on: in-memory refuses an ETag on a missing key,
      // Redis's setDefaultQuery writes it (the new key starts at version 1).
      if (store.type) {
        it(`an ETag on a key that does not exist is ${store.type === "state.redis" ? "written" : "refused"}, as contrib's ${store.type} does`, async () => {
          const key = unique("etag-missing");
          if (store.type === "state.redis") {
            await x.saveOk(c(), store.name, [{ key, value: { v: 1 }, etag: "7" }]);
            assert.deepEqual(await c().state.get(store.name, key), { v: 1 });
            assert.equal(await etagOf(c(), store.name, key), "1");
          } else {
            await x.saveConflict(c(), store.name, [{ key, value: { v: 1 }, etag: "7" }]);
            assert.equal(await c().state.get(store.name, key), "", "a refused save must not write");
          }
        });
      }

      it("an unknown state store is ERR_STATE_STORE_NOT_FOUND", async () => {
        await x.unknownStore(c(), unique("no-such-store"));
      });

      it("bulk get returns each key with its data and ETag, and no data for a missing key", async () => {
        const a = unique("bulk-a");
        const b = unique("bulk-b");
        const missing = unique("bulk-missing");
        await x.saveOk(c(), store.name, [
          { key: a, value: { id: "a" } },
          { key: b, value: [1, 2, 3] },
        ]);
        const items = await c().state.getBulk(store.name, [a, missing, b]);
        assert.equal(items.length, 3);
        const byKey = Object.fromEntries(items.map((i) => [i.key, i]));
        assert.deepEqual(byKey[a].data, { id: "a" });
        assert.deepEqual(byKey[b].data, [1, 2, 3]);
        assert.ok(byKey[a].etag && byKey[b].etag, JSON.stringify(items));
        assert.ok(missing in byKey, JSON.stringify(items));
        assert.ok(!byKey[missing].data, `a missing key has no data: ${JSON.stringify(byKey[missing])}`);
        assert.ok(!byKey[missing].etag, `a missing key has no ETag: ${JSON.stringify(byKey[missing])}`);
      });

      it("a transaction applies its upserts and deletes", async () => {
        const keep = unique("tx-keep");
        const gone = unique("tx-gone");
        const added = unique("tx-added");
        await x.saveOk(c(), store.name, [
          { key: keep, value: { v: "old" } },
          { key: gone, value: { v: "doomed" } },
        ]);
        await c().state.transaction(store.name, [
          { operation: "upsert", request: { key: keep, value: x.txValue({ v: "new" }) } },
          { operation: "upsert", request: { key: added, value: x.txValue({ v: "added" }) } },
          { operation: "delete", request: { key: gone } },
        ]);
        assert.deepEqual(await c().state.get(store.name, keep), { v: "new" });
        assert.deepEqual(await c().state.get(store.name, added), { v: "added" });
        assert.equal(await c().state.get(store.name, gone), "");
      });

      it("a transaction with a stale ETag fails and leaves the guarded key as it was", async () => {
        const guarded = unique("tx-guarded");
        const other = unique("tx-other");
        await x.saveOk(c(), store.name, [{ key: guarded, value: { v: 1 } }]);
        const stale = await etagOf(c(), store.name, guarded);
        await x.saveOk(c(), store.name, [{ key: guarded, value: { v: 2 } }]);

        await x.transactionFails(c(), store.name, [
          { operation: "upsert", request: { key: other, value: x.txValue({ v: "other" }) } },
          { operation: "upsert", request: { key: guarded, value: x.txValue({ v: 3 }), etag: stale } },
        ]);
        assert.deepEqual(await c().state.get(store.name, guarded), { v: 2 });
        if (!external) {
          // The sidecar applies a transaction all or nothing. (daprd's state.redis runs it as a MULTI
          // pipeline that can leave the other operations applied, so this is not checked against daprd.)
          assert.equal(await c().state.get(store.name, other), "", "a failed transaction must write nothing");
        }
      });
    });
  }
}
