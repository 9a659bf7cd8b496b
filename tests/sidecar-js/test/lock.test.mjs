// Distributed lock API through the SDK's client.lock (lock/unlock), over HTTP and gRPC, on lock.in-memory
// (this sidecar's own type: components-contrib has none) and lock.redis (contrib's layout: the key
// lock||{app-id}||{resource} holds the owner, with the expiry as its TTL).
// With DAPR_CONFORMANCE_HTTP_ENDPOINT set, the store-independent tests run against that daprd instead (its lock
// store named by DAPR_CONFORMANCE_LOCK_STORE, default lockstore; see README.md).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CommunicationProtocolEnum } from "@dapr/dapr";
import { GrpcCode, Harness, component, httpError, redisCommand, unique, waitFor } from "./fixture.mjs";

const appId = "lock-tests";
// The SDK's LockStatus enum (types/lock/UnlockResponse), which the package index does not export.
const LockStatus = Object.freeze({ Success: 0, LockDoesNotExist: 1, LockBelongsToOthers: 2, InternalError: 3 });
const externalHttp = process.env.DAPR_CONFORMANCE_HTTP_ENDPOINT;
const externalGrpc = process.env.DAPR_CONFORMANCE_GRPC_ENDPOINT;
const external = Boolean(externalHttp);
const externalStore = process.env.DAPR_CONFORMANCE_LOCK_STORE || "lockstore";
const stores = external
  ? [{ label: `store ${externalStore} of ${externalHttp}`, name: externalStore }]
  : [
      { label: "lock.in-memory", name: "memlock" },
      { label: "lock.redis", name: "redislock" },
    ];
const protocols = external && !externalGrpc ? ["HTTP"] : ["HTTP", "GRPC"];

const h = new Harness("lock");
const clients = {};
let redis;

before(async () => {
  if (external) {
    clients.HTTP = h.clientForEndpoint(externalHttp);
    if (externalGrpc) clients.GRPC = h.clientForEndpoint(externalGrpc, CommunicationProtocolEnum.GRPC);
    return;
  }
  redis = await h.startRedis();
  const dir = h.components("lock", {
    "memlock.yaml": component("memlock", "lock.in-memory"),
    "redislock.yaml": component("redislock", "lock.redis", { redisHost: redis.host }),
  });
  const sidecar = await h.startSidecar({ appId, resources: [dir] });
  clients.HTTP = h.client(sidecar, CommunicationProtocolEnum.HTTP);
  clients.GRPC = h.client(sidecar, CommunicationProtocolEnum.GRPC);
});

after(() => h.close());

for (const protocol of protocols) {
  for (const store of stores) {
    describe(`${store.label} over ${protocol}`, () => {
      it("a held lock refuses another owner, who cannot unlock it either, until its owner unlocks", async () => {
        const c = clients[protocol];
        const resource = unique("res");
        assert.deepEqual(await c.lock.lock(store.name, resource, "owner-a", 60), { success: true });
        assert.deepEqual(await c.lock.lock(store.name, resource, "owner-b", 60), { success: false });
        assert.deepEqual(await c.lock.unlock(store.name, resource, "owner-b"), { status: LockStatus.LockBelongsToOthers });
        assert.deepEqual(await c.lock.unlock(store.name, resource, "owner-a"), { status: LockStatus.Success });
        assert.deepEqual(await c.lock.unlock(store.name, resource, "owner-a"), { status: LockStatus.LockDoesNotExist });
        assert.deepEqual(await c.lock.lock(store.name, resource, "owner-b", 60), { success: true });
      });

      it("an expired lock is free for another owner", async () => {
        const c = clients[protocol];
        const resource = unique("exp");
        // Three seconds: the second attempt comes before the expiry even on a loaded machine.
        assert.equal((await c.lock.lock(store.name, resource, "owner-a", 3)).success, true);
        assert.equal((await c.lock.lock(store.name, resource, "owner-b", 60)).success, false);
        await waitFor(async () => (await c.lock.lock(store.name, resource, "owner-b", 60)).success, {
          timeoutMs: 15000,
          what: "the three-second lock to expire",
        });
        assert.equal((await c.lock.unlock(store.name, resource, "owner-a")).status, LockStatus.LockBelongsToOthers);
      });
    });
  }

  it(`${protocol}: a zero expiry is refused with daprd's code and locks nothing`, async () => {
    const c = clients[protocol];
    const resource = unique("bad");
    await assert.rejects(c.lock.lock(stores[0].name, resource, "owner-a", 0), (err) => {
      if (protocol === "HTTP") {
        const e = httpError(err);
        assert.equal(e.status, 400, e.text);
        assert.equal(e.errorCode, "ERR_MALFORMED_REQUEST", e.text);
      } else {
        assert.equal(err.code, GrpcCode.InvalidArgument, String(err));
        assert.match(err.rawMessage ?? err.message, new RegExp(`ExpiryInSeconds is not positive in lock store ${stores[0].name}`));
      }
      return true;
    });
    assert.equal((await c.lock.lock(stores[0].name, resource, "owner-b", 60)).success, true);
  });

  it(`${protocol}: an unknown lock store is ERR_LOCK_STORE_NOT_FOUND`, async () => {
    const c = clients[protocol];
    await assert.rejects(c.lock.lock("nope", unique("x"), "owner-a", 10), (err) => {
      if (protocol === "HTTP") {
        const e = httpError(err);
        assert.equal(e.status, 400, e.text);
        assert.equal(e.errorCode, "ERR_LOCK_STORE_NOT_FOUND", e.text);
      } else {
        assert.equal(err.code, GrpcCode.InvalidArgument, String(err));
        assert.match(err.rawMessage ?? err.message, /lock store nope not found/);
      }
      return true;
    });
  });
}

if (!external) {
  it("lock.redis keeps the lock as contrib lays it out: lock||app-id||resource holds the owner, with a TTL", async () => {
    const resource = unique("layout");
    const key = `lock||${appId}||${resource}`;
    assert.equal((await clients.GRPC.lock.lock("redislock", resource, "owner-a", 30)).success, true);
    assert.equal(await redisCommand(redis.port, "GET", key), "owner-a");
    const ttl = await redisCommand(redis.port, "TTL", key);
    assert.ok(ttl > 0 && ttl <= 30, `TTL ${ttl}`);
    assert.equal((await clients.HTTP.lock.unlock("redislock", resource, "owner-a")).status, LockStatus.Success);
    assert.equal(await redisCommand(redis.port, "EXISTS", key), 0);
  });
}
