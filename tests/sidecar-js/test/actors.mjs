// Actors through the JS SDK: an AbstractActor hosted by an HTTP DaprServer (the actor runtime only runs on the HTTP
// app channel, as with daprd), called through ActorProxyBuilder with a DaprClient over HTTP and over gRPC
// (ActorClientHTTP / ActorClientGRPC), its state and reminders kept through the server's own client in the protocol
// the test file chooses (actors-http.test.mjs, actors-grpc.test.mjs). One host per process: the SDK's ActorRuntime
// is a process-wide singleton bound to the first server's client.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AbstractActor, ActorId, ActorProxyBuilder, CommunicationProtocolEnum, Temporal } from "@dapr/dapr";
import { Harness, component, unique, waitFor } from "./fixture.mjs";

const { HTTP, GRPC } = CommunicationProtocolEnum;
const reminders = [];

/** An actor class named `name` (the class name is the actor type), counting in its state and recording reminders. */
function counterType(name) {
  return {
    [name]: class extends AbstractActor {
      async increment() {
        const [has, n] = await this.getStateManager().tryGetState("count");
        const next = (has ? n : 0) + 1;
        await this.getStateManager().setState("count", next);
        await this.getStateManager().saveState();
        return next;
      }

      async count() {
        const [has, n] = await this.getStateManager().tryGetState("count");
        return has ? n : 0;
      }

      async remindMe(text) {
        await this.registerActorReminder("ping", Temporal.Duration.from({ seconds: 0 }), Temporal.Duration.from({ hours: 1 }), undefined, text);
      }

      async forget() {
        await this.unregisterActorReminder("ping");
      }

      async receiveReminder(data) {
        reminders.push({ type: name, id: this.getActorId().getId(), data });
      }
    },
  }[name];
}

/** Defines the suite for a host whose own client (state, reminders) speaks `hostProtocol` ("HTTP" or "GRPC"). */
export function actorSuite(hostProtocol) {
  const h = new Harness(`actors-${hostProtocol.toLowerCase()}`);
  const type = counterType(`CounterVia${hostProtocol === "GRPC" ? "Grpc" : "Http"}`);
  let host; // the app hosting `type`, and its sidecar
  let caller; // a sidecar without an app: calls reach the actor's host through it

  before(async () => {
    const resources = h.components("actors", {
      "statestore.yaml": component("statestore", "state.in-memory", { actorStateStore: "true" }),
    });
    host = await h.startApp({
      appId: `actors-${hostProtocol.toLowerCase()}`,
      resources: [resources],
      protocol: HTTP,
      clientProtocol: hostProtocol === "GRPC" ? GRPC : HTTP,
      setup: async (server) => {
        await server.actor.init();
        await server.actor.registerActor(type);
      },
    });
    caller = await h.startSidecar({ appId: `actors-caller-${hostProtocol.toLowerCase()}`, resources: [resources] });
  });

  after(() => h.close());

  /** A proxy for `type`/`id` whose calls go over `protocol` to `sidecar`. */
  function proxy(id, sidecar, protocol) {
    const builder = new ActorProxyBuilder(type, h.client(sidecar, protocol === "GRPC" ? GRPC : HTTP));
    h.clients.push(builder.actorClient.actor.client); // the builder's own client, stopped with the harness
    return builder.build(new ActorId(id));
  }

  for (const callerProtocol of ["HTTP", "GRPC"]) {
    describe(`actor state over ${hostProtocol}, called over ${callerProtocol}`, () => {
      it("a method call reaches the actor, through its own sidecar and through another app's, and its state persists", async () => {
        const id = unique("c");
        const direct = proxy(id, host.sidecar, callerProtocol);
        const remote = proxy(id, caller, callerProtocol);
        assert.equal(await direct.increment(), 1);
        assert.equal(await remote.increment(), 2);
        assert.equal(await direct.count(), 2);
        const res = await fetch(`${host.sidecar.httpEndpoint}/v1.0/actors/${type.name}/${id}/state/count`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "2");
      });
    });
  }

  it(`a reminder registered over ${hostProtocol} fires with its data, as daprd delivers it, and unregisters`, async () => {
    const id = unique("r");
    const actor = proxy(id, host.sidecar, "HTTP");
    await actor.remindMe("ping-data");
    await waitFor(() => reminders.some((r) => r.type === type.name && r.id === id), { what: "the reminder to fire" });
    const fired = reminders.find((r) => r.type === type.name && r.id === id);
    // Over HTTP the data is the JSON the client sent; over gRPC daprd json.Marshal-s the bytes: a base64 string.
    assert.equal(fired.data, hostProtocol === "GRPC" ? Buffer.from("ping-data").toString("base64") : "ping-data");
    await actor.forget();
    const res = await fetch(`${host.sidecar.httpEndpoint}/v1.0/actors/${type.name}/${id}/reminders/ping`);
    assert.equal(res.status, 404);
  });
}
