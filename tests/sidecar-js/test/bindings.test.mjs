// Bindings through the SDK: client.binding.send (HTTP and gRPC) on bindings.redis, with the values checked in
// Redis itself, and server.binding.receive of bindings.cron events delivered by the sidecar.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CommunicationProtocolEnum } from "@dapr/dapr";
import { GrpcCode, Harness, component, httpError, redisCommand, unique, waitFor } from "./fixture.mjs";

const h = new Harness("bindings");
const clients = {};
let redis;

before(async () => {
  redis = await h.startRedis();
  const dir = h.components("output", {
    "cache.yaml": component("cache", "bindings.redis", { redisHost: redis.host }),
  });
  const sidecar = await h.startSidecar({ appId: "bindings-out", resources: [dir] });
  clients.HTTP = h.client(sidecar, CommunicationProtocolEnum.HTTP);
  clients.GRPC = h.client(sidecar, CommunicationProtocolEnum.GRPC);
});

after(() => h.close());

const text = (data) => (data instanceof Uint8Array ? Buffer.from(data).toString("utf8") : data);

for (const protocol of ["HTTP", "GRPC"]) {
  describe(`client.binding.send over ${protocol} to bindings.redis`, () => {
    it("create writes the data to the key, get reads it back, delete removes it", async () => {
      const c = clients[protocol];
      const key = unique("order");

      await c.binding.send("cache", "create", { id: 7, name: "pen" }, { key });
      assert.deepEqual(JSON.parse(await redisCommand(redis.port, "GET", key)), { id: 7, name: "pen" });

      const got = await c.binding.send("cache", "get", undefined, { key });
      // HTTP: the SDK parses the 200 body; gRPC: the response's data bytes.
      const value = protocol === "HTTP" ? got : JSON.parse(text(got.data));
      assert.deepEqual(value, { id: 7, name: "pen" });

      await c.binding.send("cache", "delete", undefined, { key });
      assert.equal(await redisCommand(redis.port, "EXISTS", key), 0);
    });

    it("an operation the binding does not support is refused and writes nothing", async () => {
      const c = clients[protocol];
      const key = unique("order");

      await assert.rejects(c.binding.send("cache", "upsert", { id: 1 }, { key }), (e) => {
        if (protocol === "HTTP") {
          const err = httpError(e);
          assert.equal(err.status, 500, err.text);
          assert.equal(err.errorCode, "ERR_INVOKE_OUTPUT_BINDING");
          assert.equal(err.message, "error invoking output binding cache: binding cache does not support operation upsert. supported operations:create delete get increment");
        } else {
          assert.equal(e.code, GrpcCode.Internal, String(e));
          assert.match(String(e.message), /does not support operation upsert/);
        }
        return true;
      });
      assert.equal(await redisCommand(redis.port, "EXISTS", key), 0);
    });

    it("an unknown binding name is ERR_INVOKE_OUTPUT_BINDING", async () => {
      await assert.rejects(clients[protocol].binding.send("nope", "create", { id: 1 }, { key: unique("k") }), (e) => {
        if (protocol === "HTTP") {
          const err = httpError(e);
          assert.equal(err.status, 500, err.text);
          assert.equal(err.errorCode, "ERR_INVOKE_OUTPUT_BINDING");
          assert.equal(err.message, "error invoking output binding nope: couldn't find output binding nope");
        } else {
          assert.equal(e.code, GrpcCode.Internal, String(e));
          assert.match(String(e.message), /couldn't find output binding nope/);
        }
        return true;
      });
    });
  });
}

describe("server.binding.receive of bindings.cron", () => {
  it("an @every 1s schedule is delivered to the app at least twice", async () => {
    const dir = h.components("cron", {
      "tick.yaml": component("tick", "bindings.cron", { schedule: "@every 1s" }),
    });
    let received = 0;
    await h.startApp({
      appId: "bindings-in",
      resources: [dir],
      setup: async (server) => {
        await server.binding.receive("tick", async () => {
          received++;
        });
      },
    });

    await waitFor(() => received >= 2, { timeoutMs: 20000, what: "two cron events" });
  });
});
