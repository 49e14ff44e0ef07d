// End-to-end tests with the real @microsoft/signalr client in Node: the
// client negotiates through ./handler, follows the redirect to the emulator
// (bin/signalr-emulator), and receives what the handler's /api/broadcast
// sends through the emulator's REST API.
//
// Run after `make build`: cd e2e && node --test --test-concurrency=1
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, test } from "node:test";

import { HttpTransportType } from "@microsoft/signalr";

import { connect, jwtPayload, withTimeout } from "./lib/client.js";
import {
  broadcast, broadcastMissing, emulatorBroadcast, emulatorREST, hub, newSecret, nowSeconds, signHS256,
  startEmulator, startHandler, startStack,
} from "./lib/stack.js";

// E2E_BROADCAST=emulator sends what the tests would POST to /api/broadcast
// straight to the emulator's REST API instead (checks the tests and the
// emulator while the handler's broadcast is missing).
const viaEmulator = process.env.E2E_BROADCAST === "emulator";

const jwtIssuer = "https://issuer.e2e.test/";
const jwtAudience = "api://functions-go-e2e";
const jwtSecret = newSecret();

/** A bearer token the handler accepts for user id sub. */
function userToken(sub, { exp = nowSeconds() + 600, aud = jwtAudience } = {}) {
  return signHS256({ sub, iss: jwtIssuer, aud, iat: nowSeconds() - 5, exp }, jwtSecret);
}

describe("handler + emulator with @microsoft/signalr in Node", () => {
  let stack;
  let api; // the base URL clients are given: <handler>/api
  let skipBroadcast = false;
  const clients = [];

  before(async () => {
    stack = await startStack({
      ALLOW_ANONYMOUS: "true",
      AUTH_JWT_SECRET: jwtSecret,
      AUTH_JWT_ISSUER: jwtIssuer,
      AUTH_JWT_AUDIENCE: jwtAudience,
      AUTH_TRUST_EASYAUTH: "true",
    });
    api = `${stack.handler.url}/api`;
    skipBroadcast = viaEmulator ? false : await broadcastMissing(stack.handler);
  });

  after(async () => {
    await stack?.stop();
  });

  afterEach(async (t) => {
    await Promise.allSettled(clients.splice(0).map((c) => c.stop()));
  });

  /** connect() that stops the client after the test. */
  async function open(options) {
    const c = await connect(api, options);
    clients.push(c);
    return c;
  }

  /**
   * Sends a broadcast and asserts the handler accepted it (202 + JSON).
   */
  async function send(body) {
    const res = viaEmulator ? await emulatorBroadcast(stack.emulator, body) : await broadcast(stack.handler, body);
    assert.equal(res.status, 202, `POST /api/broadcast ${JSON.stringify(body)} answered ${res.status}: ${res.text}\n${stack.logs()}`);
    assert.equal(typeof res.json, "object", `202 body is not JSON: ${res.text}`);
    if (!viaEmulator) {
      // The summary: one result per item, every one sent to the hub.
      const items = [].concat(body);
      assert.equal(res.json.hub, hub, res.text);
      assert.equal(res.json.sent, items.length, res.text);
      assert.deepEqual(res.json.items.map((i) => [i.index, i.status]), items.map((_, i) => [i, "sent"]), res.text);
    }
    return res.json;
  }

  /**
   * A fence: broadcast a marker to everyone and wait until each of clients
   * has it. Messages to one connection arrive in order, so whatever was
   * sent to a client before the fence has arrived once the fence has.
   */
  async function fence(...cs) {
    const id = randomUUID();
    await send({ target: "fence", arguments: [id] });
    await Promise.all(cs.map((c) => c.next("fence", (x) => x === id)));
  }

  const targets = ["newMessage", "fence"];

  test("negotiate answers the emulator's client URL and a token for it", async () => {
    const res = await fetch(`${api}/negotiate?negotiateVersion=1`, { method: "POST", signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const body = JSON.parse(text);
    assert.deepEqual(Object.keys(body).sort(), ["accessToken", "url"]);
    assert.equal(body.url, `http://127.0.0.1:${stack.emulator.port}/client/?hub=${hub}`);
    const claims = jwtPayload(body.accessToken);
    assert.equal(claims.aud, `http://127.0.0.1/client/?hub=${hub}`, "aud is the client URL without the port, as the service SDK signs it");
    assert.ok(claims.exp > nowSeconds() + 60, `exp ${claims.exp} is not in the future`);
    assert.equal(claims["asrs.s.uid"], undefined, "an anonymous caller has no user id");
  });

  test("an anonymous client connects to the emulator and receives a broadcast to all", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const a = await open({ targets });
    const b = await open({ targets });
    assert.ok(a.connectionId && b.connectionId && a.connectionId !== b.connectionId);
    const msg = { name: "e2e", text: `hello all ${randomUUID()}` };
    await send({ target: "newMessage", arguments: [msg] });
    for (const c of [a, b]) {
      const [got] = await c.next("newMessage", (m) => m?.text === msg.text);
      assert.deepEqual(got, msg);
    }
  });

  test("target names match case-insensitively, several arguments arrive in order", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const a = await open({ targets });
    const tag = randomUUID();
    await send({ target: "NewMessage", arguments: [tag, 2, { deep: [true, null] }] });
    const args = await a.next("newMessage", (x) => x === tag);
    assert.deepEqual(args, [tag, 2, { deep: [true, null] }]);
  });

  test("a user identified by a validated HS256 bearer token receives a message sent to its user id", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const user = `alice-${randomUUID()}`;
    const alice = await open({ targets, accessTokenFactory: () => userToken(user) });
    const other = await open({ targets, accessTokenFactory: () => userToken(`bob-${randomUUID()}`) });
    const anon = await open({ targets });
    const text = `for alice ${randomUUID()}`;
    await send({ target: "newMessage", arguments: [{ name: "e2e", text }], userId: user });
    await alice.next("newMessage", (m) => m?.text === text);
    await fence(other, anon);
    assert.equal(other.inbox("newMessage").length, 0, "another user got alice's message");
    assert.equal(anon.inbox("newMessage").length, 0, "an anonymous client got alice's message");
  });

  test("a user identified by the EasyAuth X-MS-CLIENT-PRINCIPAL-ID header receives a message sent to its user id", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const user = `easy-${randomUUID()}`;
    const easy = await open({ targets, headers: { "X-MS-CLIENT-PRINCIPAL-ID": user, "X-MS-CLIENT-PRINCIPAL-NAME": "easy@example.test" } });
    const anon = await open({ targets });
    const text = `for easy ${randomUUID()}`;
    await send({ target: "newMessage", arguments: [{ name: "e2e", text }], userId: user });
    await easy.next("newMessage", (m) => m?.text === text);
    await fence(anon);
    assert.equal(anon.inbox("newMessage").length, 0, "an anonymous client got the user's message");
  });

  test("a connection added to a group receives the group's messages; others do not, and removal stops them", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const group = `room-${randomUUID()}`;
    const member = await open({ targets });
    const outsider = await open({ targets });
    await send({ action: "add", connectionId: member.connectionId, groupName: group });
    const text = `to ${group}`;
    await send({ target: "newMessage", arguments: [{ name: "e2e", text }], groupName: group });
    await member.next("newMessage", (m) => m?.text === text);
    await fence(outsider);
    assert.equal(outsider.inbox("newMessage").length, 0, "a connection outside the group got the group message");

    await send({ action: "remove", connectionId: member.connectionId, groupName: group });
    await send({ target: "newMessage", arguments: [{ name: "e2e", text: "after removal" }], groupName: group });
    await fence(member);
    assert.deepEqual(member.inbox("newMessage").map(([m]) => m.text), [text], "a removed connection still got group messages");
  });

  test("a user added to a group receives the group's messages on its connection", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const user = `carol-${randomUUID()}`;
    const group = `team-${randomUUID()}`;
    const carol = await open({ targets, accessTokenFactory: () => userToken(user) });
    const anon = await open({ targets });
    await send({ action: "add", userId: user, groupName: group });
    const text = `to ${group}`;
    await send({ target: "newMessage", arguments: [{ name: "e2e", text }], groupName: group });
    await carol.next("newMessage", (m) => m?.text === text);
    await fence(anon);
    assert.equal(anon.inbox("newMessage").length, 0);
  });

  test("a message to one connectionId reaches that connection only", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const target = await open({ targets });
    const other = await open({ targets });
    const text = `only ${target.connectionId}`;
    await send({ target: "newMessage", arguments: [{ name: "e2e", text }], connectionId: target.connectionId });
    await target.next("newMessage", (m) => m?.text === text);
    await fence(other);
    assert.equal(other.inbox("newMessage").length, 0, "another connection got the message");
  });

  test("a batch (array) adds to a group and sends to it in order", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const group = `batch-${randomUUID()}`;
    const member = await open({ targets });
    const outsider = await open({ targets });
    const texts = ["first", "second", "third"].map((x) => `${x} ${group}`);
    await send([
      { action: "add", connectionId: member.connectionId, groupName: group },
      ...texts.map((text) => ({ target: "newMessage", arguments: [{ name: "e2e", text }], groupName: group })),
    ]);
    await member.next("newMessage", (m) => m?.text === texts[2]);
    assert.deepEqual(member.inbox("newMessage").map(([m]) => m.text), texts);
    await fence(outsider);
    assert.equal(outsider.inbox("newMessage").length, 0);
  });

  test("an excluded connection receives nothing of a group message", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const group = `excl-${randomUUID()}`;
    const excluded = await open({ targets });
    const included = await open({ targets });
    await send([
      { action: "add", connectionId: excluded.connectionId, groupName: group },
      { action: "add", connectionId: included.connectionId, groupName: group },
    ]);
    const text = `group minus ${excluded.connectionId}`;
    await send({ target: "newMessage", arguments: [{ name: "e2e", text }], groupName: group, excluded: [excluded.connectionId] });
    await included.next("newMessage", (m) => m?.text === text);
    await fence(excluded);
    assert.equal(excluded.inbox("newMessage").length, 0, "the excluded connection got the group message");
  });

  test("an excluded connection receives nothing of a broadcast to all", async (t) => {
    if (skipBroadcast) return t.skip(skipBroadcast);
    const excluded = await open({ targets });
    const included = await open({ targets });
    const text = `not for ${excluded.connectionId}`;
    await send({ target: "newMessage", arguments: [{ name: "e2e", text }], excluded: [excluded.connectionId] });
    await included.next("newMessage", (m) => m?.text === text);
    await fence(excluded);
    assert.equal(excluded.inbox("newMessage").length, 0, "the excluded connection got the message");
  });

  test("closing connections through the REST API ends the client with the reason", async () => {
    const c = await open({ targets });
    const reason = `e2e closes ${randomUUID()}`;
    const res = await emulatorREST(stack.emulator, "POST", "/:closeConnections", { query: { reason } });
    assert.equal(res.status, 204, res.text);
    const err = await withTimeout(c.closed, 5000, "onclose");
    assert.ok(err instanceof Error, `onclose got ${err} instead of an Error`);
    assert.match(err.message, new RegExp(reason), `onclose error ${JSON.stringify(err.message)} lacks the reason`);
  });

  for (const [name, transport] of [["Server-Sent Events", HttpTransportType.ServerSentEvents], ["long polling", HttpTransportType.LongPolling]]) {
    test(`over ${name} a client negotiates through the handler, receives a broadcast, and a REST close ends it with the reason`, async (t) => {
      const c = await open({ targets, transport });
      assert.equal(c.conn.connection.transport?.constructor?.name,
        transport === HttpTransportType.ServerSentEvents ? "ServerSentEventsTransport" : "LongPollingTransport",
        `the client did not use ${name}`);
      if (!skipBroadcast) {
        const text = `over ${name} ${randomUUID()}`;
        await send({ target: "newMessage", arguments: [{ name: "e2e", text }] });
        const [got] = await c.next("newMessage", (m) => m?.text === text);
        assert.deepEqual(got, { name: "e2e", text });
        // Several messages in a row arrive in order.
        const tags = [1, 2, 3, 4, 5].map((i) => `${i} ${randomUUID()}`);
        for (const tag of tags) await send({ target: "newMessage", arguments: [{ name: "e2e", text: tag }] });
        await c.next("newMessage", (m) => m?.text === tags[4]);
        assert.deepEqual(c.inbox("newMessage").map(([m]) => m.text).slice(-5), tags);
      }
      const reason = `e2e closes ${name} ${randomUUID()}`;
      const res = await emulatorREST(stack.emulator, "DELETE", `/connections/${encodeURIComponent(c.connectionId)}`, { query: { reason } });
      assert.equal(res.status, 200, res.text);
      const err = await withTimeout(c.closed, 5000, "onclose");
      assert.ok(err instanceof Error, `onclose got ${err} instead of an Error`);
      assert.match(err.message, new RegExp(reason), `onclose error ${JSON.stringify(err.message)} lacks the reason`);
      const gone = await emulatorREST(stack.emulator, "HEAD", `/connections/${encodeURIComponent(c.connectionId)}`);
      assert.equal(gone.status, 404, "the closed connection still exists");
    });
  }

  test("a long-polling client that stops is removed from the emulator at once", async () => {
    const c = await open({ targets, transport: HttpTransportType.LongPolling });
    const id = c.connectionId;
    assert.equal((await emulatorREST(stack.emulator, "HEAD", `/connections/${encodeURIComponent(id)}`)).status, 200);
    await withTimeout(c.conn.stop(), 5000, "stop");
    const res = await emulatorREST(stack.emulator, "HEAD", `/connections/${encodeURIComponent(id)}`);
    assert.equal(res.status, 404, "the stopped connection still exists (the client's DELETE did not end it)");
  });

  test("an expired bearer token is refused by the handler with an explanatory 401", async () => {
    const expired = userToken("late-user", { exp: nowSeconds() - 3600 });
    const res = await fetch(`${api}/negotiate?negotiateVersion=1`, {
      method: "POST",
      headers: { Authorization: `Bearer ${expired}` },
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    assert.equal(res.status, 401, text);
    const body = JSON.parse(text);
    assert.equal(body.error?.code, "auth.token_expired", text);
    assert.ok(body.error.message.length > 10, `message ${JSON.stringify(body.error.message)}`);
    assert.ok(body.error.hint.length > 10, `hint ${JSON.stringify(body.error.hint)}`);
    assert.ok(!text.includes(expired), "the error body quotes the token");

    // The real client fails to start with the status.
    await assert.rejects(
      connect(api, { accessTokenFactory: () => expired }),
      (err) => { assert.match(err.message, /401/); return true; },
    );
  });

  test("a client token with a wrong audience is refused by the emulator with expected vs got", async () => {
    const wrongAud = "http://127.0.0.1/client/?hub=someotherhub";
    const token = signHS256({ aud: wrongAud, exp: nowSeconds() + 300, iat: nowSeconds() }, stack.emulator.key);
    const res = await fetch(`${stack.emulator.url}/client/negotiate?hub=${hub}&negotiateVersion=1`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    assert.equal(res.status, 401, text);
    const body = JSON.parse(text);
    assert.match(body.message, /expected/i, text);
    assert.ok(body.message.includes(`/client/?hub=${hub}`), `the message does not name the expected audience: ${text}`);
    assert.ok(body.message.includes(wrongAud), `the message does not quote the audience it got: ${text}`);
    assert.ok(!text.includes(token), "the error body quotes the token");
  });
});

describe("handler settings as the Functions host passes them", () => {
  test("the handler reads AzureSignalRConnectionString in its documented (mixed-case) spelling", async () => {
    const emulator = await startEmulator();
    try {
      // Only the documented name: local.settings.json and Azure app
      // settings keep their case on Linux.
      const handler = await startHandler({ AzureSignalRConnectionString: emulator.connectionString });
      try {
        const res = await fetch(`${handler.url}/api/negotiate`, { method: "POST", signal: AbortSignal.timeout(5000) });
        const text = await res.text();
        assert.equal(res.status, 200, text);
        assert.equal(JSON.parse(text).url, `http://127.0.0.1:${emulator.port}/client/?hub=${hub}`);
      } finally {
        await handler.proc.stop();
      }
    } finally {
      await emulator.proc.stop();
    }
  });
});
