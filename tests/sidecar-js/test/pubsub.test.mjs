// Pub/sub through the SDK: DaprClient publishes (HTTP and gRPC), DaprServer subscribes. Cross-app delivery
// runs on pubsub.redis (pubsub.in-memory is per sidecar process); a single app also checks pubsub.in-memory.
// Every topic name is unique, so no test sees another's events; "settled" (nothing pending in the consumer
// group) is what makes "not delivered again" a fact rather than a wait.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CommunicationProtocolEnum, DaprPubSubStatusEnum } from "@dapr/dapr";
import { Harness, component, pendingCount, redisCommand, unique, waitFor } from "./fixture.mjs";

const { HTTP, GRPC } = CommunicationProtocolEnum;
const h = new Harness("pubsub");
let redis;
let resources; // pubsub (redis, long processingTimeout), retrypubsub (redis, 1s processingTimeout), mempubsub (in-memory)
let publisher; // app-id "app-a": publishes to the others, and subscribes for the delivery-outcome tests
const outcomeTopics = {
  retry: unique("flaky"),
  poison: unique("poison"),
  discard: unique("discard"),
  local: unique("local"),
  bulk: unique("bulk"),
};
const deadTopic = `${outcomeTopics.poison}-dead`;
const seen = { retry: [], poison: [], dead: [], discard: [], local: [], bulk: [] };

before(async () => {
  redis = await h.startRedis();
  resources = h.components("pubsub", {
    // processingTimeout is long on "pubsub" so that a slow delivery is never claimed by the other replica:
    // the exactly-once checks must not depend on timing. "retrypubsub" redelivers after 1s.
    "pubsub.yaml": component("pubsub", "pubsub.redis", { redisHost: redis.host, processingTimeout: "60s", redeliverInterval: "1s" }),
    "retrypubsub.yaml": component("retrypubsub", "pubsub.redis", { redisHost: redis.host, processingTimeout: "1s", redeliverInterval: "200ms" }),
    "mempubsub.yaml": component("mempubsub", "pubsub.in-memory"),
  });
  const t = outcomeTopics;
  const appA = await h.startApp({
    appId: "app-a",
    resources: [resources],
    setup: async (server) => {
      await server.pubsub.subscribe("retrypubsub", t.retry, async (data) => {
        seen.retry.push(data.id);
        return seen.retry.length === 1 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
      });
      await server.pubsub.subscribeWithOptions("retrypubsub", t.poison, {
        deadLetterTopic: deadTopic,
        callback: async (data) => {
          seen.poison.push(data.id);
          return DaprPubSubStatusEnum.DROP;
        },
      });
      // The SDK does not subscribe to the dead-letter topic by itself.
      await server.pubsub.subscribe("retrypubsub", deadTopic, async (data) => {
        seen.dead.push(data.id);
      });
      await server.pubsub.subscribe("retrypubsub", t.discard, async (data) => {
        seen.discard.push(data.id);
        return DaprPubSubStatusEnum.DROP;
      });
      // Bulk subscribe: the SDK reads the envelope's entries and calls back once per entry.
      await server.pubsub.subscribeBulk(
        "retrypubsub",
        t.bulk,
        async (data) => {
          seen.bulk.push(data.seq);
          const first = seen.bulk.filter((s) => s === data.seq).length === 1;
          return data.seq === 3 && first ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
        },
        { maxMessagesCount: 4, maxAwaitDurationMs: 200 },
      );
      await server.pubsub.subscribe("mempubsub", t.local, async (data, headers) => {
        seen.local.push({ ...data, pubsub: headers.pubsubname });
        const deliveriesOf2 = seen.local.filter((e) => e.n === 2).length;
        return data.n === 2 && deliveriesOf2 === 1 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
      });
    },
  });
  publisher = appA.sidecar;
});

after(() => h.close());

/** Publishes and fails the test on error (the HTTP client returns {error}, the gRPC client throws {error}). */
async function publish(client, pubsub, topic, data) {
  let result;
  try {
    result = await client.pubsub.publish(pubsub, topic, data);
  } catch (e) {
    result = e;
  }
  assert.equal(result?.error, undefined, `publish to ${pubsub}/${topic} failed: ${result?.error?.message ?? result?.error}`);
}

const range = (n, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const sorted = (xs) => [...xs].sort((a, b) => a - b);

/** Waits until consumer group `group` has acknowledged all it read from `topic`: nothing can come again. */
async function settled(topic, group) {
  await waitFor(async () => (await pendingCount(redis.port, topic, group)) === 0, {
    what: `consumer group ${group} to acknowledge everything on ${topic}`,
  });
}

describe("pubsub.redis: app-id B (two replicas) and app-id C subscribe, another app-id publishes", () => {
  const fanoutTopic = unique("orders");
  const failoverTopic = unique("jobs");
  const got = { [fanoutTopic]: { B: [], C: [] }, [failoverTopic]: { B: [], C: [] } };
  const apps = {};

  const subscriberApp = (appId, label) =>
    h.startApp({
      appId,
      resources: [resources],
      setup: async (server) => {
        for (const topic of [fanoutTopic, failoverTopic]) {
          await server.pubsub.subscribe("pubsub", topic, async (data) => {
            got[topic][appId === "app-b" ? "B" : "C"].push([label, data.seq]);
          });
        }
      },
    });

  before(async () => {
    [apps.b1, apps.b2, apps.c] = await Promise.all([subscriberApp("app-b", "b1"), subscriberApp("app-b", "b2"), subscriberApp("app-c", "c")]);
  });

  it("C gets every event once and B's replicas together handle every event once (HTTP, gRPC and bulk publish)", async () => {
    const http = h.client(publisher, HTTP);
    const grpc = h.client(publisher, GRPC);
    await Promise.all(range(8).map((seq) => publish(http, "pubsub", fanoutTopic, { seq })));
    await Promise.all(range(6, 8).map((seq) => publish(grpc, "pubsub", fanoutTopic, { seq })));
    const bulk = await http.pubsub.publishBulk("pubsub", fanoutTopic, range(6, 14).map((seq) => ({ seq })));
    assert.deepEqual(bulk.failedMessages, []);

    const { B, C } = got[fanoutTopic];
    await waitFor(() => B.length >= 20 && C.length >= 20, { what: `20 events at B (${B.length}) and C (${C.length})` });
    await settled(fanoutTopic, "app-b");
    await settled(fanoutTopic, "app-c");
    assert.deepEqual(sorted(C.map(([, seq]) => seq)), range(20), "C gets each event exactly once");
    assert.deepEqual(sorted(B.map(([, seq]) => seq)), range(20), "each event is handled exactly once across B's replicas");
  });

  it("when one replica of B stops (SIGTERM), the other handles all of B's events", async () => {
    await apps.b1.sidecar.stop(30000); // a generous grace: the point is that it exits by itself
    assert.equal(apps.b1.sidecar.process.exitCode, 0, "a sidecar exits 0 on SIGTERM");
    const client = h.client(publisher, GRPC);
    await Promise.all(range(6).map((seq) => publish(client, "pubsub", failoverTopic, { seq })));

    const { B, C } = got[failoverTopic];
    await waitFor(() => B.length >= 6 && C.length >= 6, { what: `6 events at B (${B.length}) and C (${C.length})` });
    await settled(failoverTopic, "app-b");
    await settled(failoverTopic, "app-c");
    assert.deepEqual(B.map(([label]) => label), ["b2", "b2", "b2", "b2", "b2", "b2"]);
    assert.deepEqual(sorted(B.map(([, seq]) => seq)), range(6));
    assert.deepEqual(sorted(C.map(([, seq]) => seq)), range(6));
  });
});

describe("publish errors", () => {
  it("a bulk publish over gRPC reports the entries the broker refused; a single publish fails", async () => {
    const topic = unique("not-a-stream");
    // A plain string under the topic's key makes Redis refuse XADD (WRONGTYPE), so every entry fails.
    await redisCommand(redis.port, "SET", topic, "occupied");
    const res = await h.client(publisher, GRPC).pubsub.publishBulk("pubsub", topic, [
      { entryID: "one", event: { n: 1 } },
      { entryID: "two", event: { n: 2 } },
    ]);
    assert.deepEqual(res.failedMessages.map((f) => f.message.entryID).sort(), ["one", "two"]);

    const single = await h.client(publisher, HTTP).pubsub.publish("pubsub", topic, { n: 3 });
    assert.ok(single.error, "a refused publish is an error");
    assert.match(single.error.message, /ERR_PUBSUB_PUBLISH_MESSAGE/);
  });

  it("publishing to an unknown pubsub is ERR_PUBSUB_NOT_FOUND", async () => {
    const res = await h.client(publisher, HTTP).pubsub.publish("no-such-pubsub", "t", { n: 1 });
    assert.ok(res.error, "publishing to an unknown pubsub must fail");
    assert.match(res.error.message, /ERR_PUBSUB_NOT_FOUND/);
    assert.match(res.error.message, /"status":404/);
  });
});

describe("delivery outcomes: RETRY, DROP, dead-letter (app-a's own subscriptions)", () => {
  const t = outcomeTopics;

  it("pubsub.redis: an event answered RETRY is delivered again, and not after SUCCESS", async () => {
    await publish(h.client(publisher, HTTP), "retrypubsub", t.retry, { id: "e1" });
    await waitFor(() => seen.retry.length >= 2, { what: "the redelivery of e1" });
    await settled(t.retry, "app-a");
    assert.deepEqual(seen.retry, ["e1", "e1"], "RETRY once, then SUCCESS: two deliveries");
  });

  it("pubsub.redis: an event answered DROP is not redelivered and goes to the dead-letter topic", async () => {
    await publish(h.client(publisher, GRPC), "retrypubsub", t.poison, { id: "d1" });
    await waitFor(() => seen.dead.length >= 1, { what: "d1 on the dead-letter topic" });
    await settled(t.poison, "app-a");
    await settled(deadTopic, "app-a");
    assert.deepEqual(seen.poison, ["d1"], "DROP is not redelivered");
    assert.deepEqual(seen.dead, ["d1"], "the dropped event reaches the dead-letter topic once");
  });

  it("pubsub.redis: an event answered DROP without a dead-letter topic is acknowledged and gone", async () => {
    await publish(h.client(publisher, HTTP), "retrypubsub", t.discard, { id: "x1" });
    await waitFor(() => seen.discard.length >= 1, { what: "the delivery of x1" });
    await settled(t.discard, "app-a");
    assert.deepEqual(seen.discard, ["x1"]);
  });

  it("pubsub.redis, subscribeBulk: every event reaches the callback, an entry answered RETRY comes again", async () => {
    await Promise.all(range(10).map((seq) => publish(h.client(publisher, HTTP), "retrypubsub", t.bulk, { seq })));
    await waitFor(() => seen.bulk.length >= 11, { what: `10 events and the redelivery of 3 (${seen.bulk.length} deliveries)` });
    await settled(t.bulk, "app-a");
    assert.deepEqual(sorted(seen.bulk), sorted([...range(10), 3]), "each event once, and 3 again after its RETRY");
  });

  it("pubsub.in-memory: an app receives what it publishes, and RETRY is redelivered", async () => {
    const client = h.client(publisher, GRPC);
    await Promise.all(range(3).map((n) => publish(client, "mempubsub", t.local, { n })));
    await waitFor(() => seen.local.filter((e) => e.n === 2).length >= 2, { what: "event 2 to be redelivered" });
    assert.deepEqual([...new Set(seen.local.map((e) => e.n))].sort(), [0, 1, 2]);
    assert.ok(seen.local.every((e) => e.pubsub === "mempubsub"), JSON.stringify(seen.local));
  });
});
