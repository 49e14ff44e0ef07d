// End-to-end tests of two-way hubs with the real @microsoft/signalr client:
// client invoke → emulator (-upstream) → ./handler's /api/upstream (the chat
// hub) → completion back to the client, and what the hub sends to others.
// Every item of the chat hub contract (README, "Two-way hubs"), for JSON and
// MessagePack clients.
//
// Run after `make build`: cd e2e && node --test --test-concurrency=1 upstream.test.js
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, test } from "node:test";

import { HttpTransportType } from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";

import { connect, withTimeout } from "./lib/client.js";
import { startStack } from "./lib/stack.js";

const targets = ["newMessage", "presence"];

for (const [name, protocol, transport] of [
  ["JSON over WebSockets", undefined, HttpTransportType.WebSockets],
  ["JSON over long polling", undefined, HttpTransportType.LongPolling],
  ["MessagePack over WebSockets", () => new MessagePackHubProtocol(), HttpTransportType.WebSockets],
]) {
  describe(`chat hub through the upstream, ${name}`, () => {
    let stack, api;
    const clients = [];

    before(async () => {
      stack = await startStack({ ALLOW_ANONYMOUS: "true" }, { upstream: true });
      api = `${stack.handler.url}/api`;
    });
    after(async () => { await stack?.stop(); });
    afterEach(async () => { await Promise.allSettled(clients.splice(0).map((c) => c.stop())); });

    async function open() {
      const c = await connect(api, { targets, transport, ...(protocol ? { protocol: protocol() } : {}) });
      clients.push(c);
      return c;
    }
    const diag = () => stack.logs();

    test("connected and disconnected reach everyone as presence", async () => {
      const a = await open();
      await a.next("presence", (p) => p.connectionId === a.connectionId && p.event === "connected").catch((e) => assert.fail(`${e.message}\n${diag()}`));
      const b = await open();
      const [p] = await a.next("presence", (p) => p.connectionId === b.connectionId && p.event === "connected");
      assert.deepEqual(p, { connectionId: b.connectionId, userId: null, event: "connected" });
      const bid = b.connectionId;
      await b.stop();
      const [q] = await a.next("presence", (p) => p.connectionId === bid && p.event === "disconnected");
      assert.deepEqual(q, { connectionId: bid, userId: null, event: "disconnected" });
    });

    test("sendMessage: everyone gets newMessage {from, text}; the invocation returns it", async () => {
      const a = await open(), b = await open();
      const text = `hi ${randomUUID()} ✓`;
      const result = await withTimeout(a.conn.invoke("sendMessage", text), 10000, "invoke sendMessage").catch((e) => assert.fail(`${e.message}\n${diag()}`));
      const want = { from: a.connectionId, text };
      assert.deepEqual(result, want);
      for (const c of [a, b]) {
        const [m] = await c.next("newMessage", (m) => m.text === text);
        assert.deepEqual(m, want);
      }
      // send (no invocation id) works too, and in order.
      await a.conn.send("sendMessage", "one");
      await a.conn.send("sendMessage", "two");
      await b.next("newMessage", (m) => m.text === "two");
      const texts = b.inbox("newMessage").map(([m]) => m.text);
      assert.ok(texts.indexOf("one") < texts.indexOf("two"), texts.join(","));
    });

    test("joinGroup / sendToGroup / leaveGroup", async () => {
      const a = await open(), b = await open(), outsider = await open();
      const room = `room ${randomUUID()}`;
      await withTimeout(a.conn.invoke("joinGroup", room), 10000, "joinGroup");
      await withTimeout(b.conn.invoke("joinGroup", room), 10000, "joinGroup");
      const text = `to the room ${randomUUID()}`;
      const res = await withTimeout(outsider.conn.invoke("sendToGroup", room, text), 10000, "sendToGroup");
      const want = { from: outsider.connectionId, text, group: room };
      assert.deepEqual(res, want);
      for (const c of [a, b]) assert.deepEqual((await c.next("newMessage", (m) => m.text === text))[0], want);

      await withTimeout(b.conn.invoke("leaveGroup", room), 10000, "leaveGroup");
      const second = `again ${randomUUID()}`;
      await outsider.conn.invoke("sendToGroup", room, second);
      await a.next("newMessage", (m) => m.text === second);
      // b left: a later broadcast reaches b, the group message did not.
      const marker = `marker ${randomUUID()}`;
      await outsider.conn.invoke("sendMessage", marker);
      await b.next("newMessage", (m) => m.text === marker);
      assert.ok(!b.inbox("newMessage").some(([m]) => m.text === second), "b got a group message after leaving");
      assert.ok(!outsider.inbox("newMessage").some(([m]) => m.text === text), "the outsider got the group's message");
    });

    test("an unknown method is an error naming it; the connection stays open", async () => {
      const a = await open();
      await assert.rejects(withTimeout(a.conn.invoke("noSuchMethod", 1), 10000, "invoke"), /noSuchMethod/);
      await assert.rejects(withTimeout(a.conn.invoke("sendMessage"), 10000, "invoke"), /takes 1 argument/);
      assert.equal(a.conn.state, "Connected");
      const text = `still here ${randomUUID()}`;
      assert.equal((await a.conn.invoke("sendMessage", text)).text, text);
    });
  });
}
