// End-to-end tests of the newest data plane with the real @microsoft/signalr
// client in Node: filtered sends and group joins (broadcast "filter", the
// service's :execute), presence of a group larger than one service page
// (GET /api/presence, the service's paged group listing) and client results
// (POST /api/invoke, the service's :invoke): a value, a throwing client and
// a silent one.
//
// Run after `make build`: cd e2e && node --test --test-concurrency=1 dataplane.test.js
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { connect } from "./lib/client.js";
import { broadcast, hub, startStack } from "./lib/stack.js";

describe("filters, presence and client results with @microsoft/signalr", () => {
  let stack;
  let api;
  const clients = [];

  before(async () => {
    stack = await startStack({ DEV_ALLOW_CLIENT_USER_ID: "true", SIGNALR_INVOKE_MAX_TIMEOUT: "20s" });
    api = `${stack.handler.url}/api`;
  });

  after(async () => {
    await stack?.stop();
  });

  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((c) => c.stop()));
  });

  /** A started client for user (the dev-only user id header). */
  async function open(user, targets = ["news", "room", "end"]) {
    const c = await connect(api, { targets, headers: user ? { "x-ms-signalr-userid": user } : {} });
    clients.push(c);
    return c;
  }

  async function send(body) {
    const res = await broadcast(stack.handler, body);
    assert.equal(res.status, 202, `broadcast ${JSON.stringify(body)}: ${res.status} ${res.text}\n${stack.logs()}`);
    return res.json;
  }

  /**
   * Sends "end" to everyone and waits for it on each client: messages reach
   * a connection in order, so whatever was meant for it came before.
   */
  async function drain(...cs) {
    const tag = Math.random().toString(36).slice(2);
    await send({ target: "end", arguments: [tag] });
    await Promise.all(cs.map((c) => c.next("end", (t) => t === tag)));
  }

  async function postJSON(path, body) {
    const res = await fetch(`${stack.handler.url}/api/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30000),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, text, json };
  }

  test("a filtered send reaches exactly the matching clients", async () => {
    const l1 = await open("listener-1");
    const l2 = await open("listener-2");
    const speaker = await open("speaker");
    const anon = await open("");
    const bot = await open("listener-bot");
    await send({ target: "news", arguments: ["hi"], filter: "startswith(userId, 'listener-') and not endswith(userId, 'bot')" });
    await drain(l1, l2, speaker, anon, bot);
    assert.deepEqual(l1.inbox("news"), [["hi"]]);
    assert.deepEqual(l2.inbox("news"), [["hi"]]);
    for (const c of [speaker, anon, bot]) assert.deepEqual(c.inbox("news"), [], `${c.connectionId} got the filtered message`);

    // A user id with a quote, written with the filter's '' escape.
    const quoted = await open("o'brien");
    await send({ target: "news", arguments: ["quoted"], filter: "userId eq 'o''brien'" });
    await quoted.next("news", (m) => m === "quoted");
    await drain(l1, quoted);
    assert.deepEqual(l1.inbox("news"), [["hi"]]);

    // A bad filter is refused before anything is sent.
    const bad = await broadcast(stack.handler, [{ target: "news", arguments: ["no"] }, { target: "news", arguments: ["no"], filter: "userId eq" }]);
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.code, "broadcast.invalid_filter");
    assert.match(bad.json.error.message, /position 9/);
    await drain(l1);
    assert.deepEqual(l1.inbox("news"), [["hi"]]);
  });

  test("a filtered group join adds exactly the matching clients", async () => {
    const ann = await open("ann");
    const bob = await open("bob");
    const eve = await open("eve");
    await send({ action: "add", groupName: "vip", filter: "userId in ('ann', 'bob')" });
    await send({ target: "room", arguments: ["vip only"], groupName: "vip" });
    await drain(ann, bob, eve);
    assert.deepEqual(ann.inbox("room"), [["vip only"]]);
    assert.deepEqual(bob.inbox("room"), [["vip only"]]);
    assert.deepEqual(eve.inbox("room"), []);
    // And leave by filter.
    await send({ action: "remove", groupName: "vip", filter: "userId eq 'bob'" });
    await send({ target: "room", arguments: ["after"], groupName: "vip" });
    await drain(ann, bob);
    assert.deepEqual(ann.inbox("room"), [["vip only"], ["after"]]);
    assert.deepEqual(bob.inbox("room"), [["vip only"]]);
  });

  test("presence lists a group larger than one service page", async () => {
    const n = 210; // the service pages by 200
    const members = await Promise.all(Array.from({ length: n }, (_, i) => open(`p-${String(i).padStart(3, "0")}`, ["end"])));
    const outsider = await open("outsider", ["end"]);
    await send({ action: "add", groupName: "big room", filter: "startswith(userId, 'p-')" });
    const res = await fetch(`${stack.handler.url}/api/presence?group=${encodeURIComponent("big room")}`, { signal: AbortSignal.timeout(10000) });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.hub, hub);
    assert.equal(body.group, "big room");
    const want = new Map(members.map((c, i) => [c.connectionId, `p-${String(i).padStart(3, "0")}`]));
    assert.equal(body.connections.length, n);
    const seen = new Set();
    for (const { connectionId, userId } of body.connections) {
      assert.ok(!seen.has(connectionId), `${connectionId} listed twice`);
      seen.add(connectionId);
      assert.equal(userId, want.get(connectionId), `user of ${connectionId}`);
    }
    assert.ok(!seen.has(outsider.connectionId));
  });

  test("invoke returns what the client's handler returns", async () => {
    const c = await open("u1");
    c.conn.on("getState", (q) => ({ echo: q, ok: true }));
    const res = await postJSON("invoke", { connectionId: c.connectionId, target: "getState", arguments: [{ n: 7 }] });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { result: { echo: { n: 7 }, ok: true } });

    // An async handler works the same way.
    c.conn.on("later", async () => 42);
    const later = await postJSON("invoke", { connectionId: c.connectionId, target: "later" });
    assert.equal(later.status, 200, later.text);
    assert.deepEqual(later.json, { result: 42 });
  });

  test("invoke of a throwing client carries the client's error", async () => {
    const c = await open("u2");
    c.conn.on("explode", () => { throw new Error("no way"); });
    const res = await postJSON("invoke", { connectionId: c.connectionId, target: "explode", arguments: [] });
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json.error.code, "invoke.client_error");
    assert.match(res.json.error.message, /no way/);
    // The client is still connected and usable.
    c.conn.on("fine", () => "fine");
    const again = await postJSON("invoke", { connectionId: c.connectionId, target: "fine" });
    assert.deepEqual(again.json, { result: "fine" });
  });

  test("invoke of a silent client times out; of an unknown connection is 404", async () => {
    const c = await open("u3");
    c.conn.on("silent", () => new Promise(() => {})); // never answers
    const started = Date.now();
    const res = await postJSON("invoke", { connectionId: c.connectionId, target: "silent", timeout: 1 });
    assert.equal(res.status, 504, res.text);
    assert.equal(res.json.error.code, "invoke.timeout");
    assert.ok(Date.now() - started < 15000, "the timeout was not applied");

    const gone = await postJSON("invoke", { connectionId: "no-such-connection", target: "x" });
    assert.equal(gone.status, 404, gone.text);
    assert.equal(gone.json.error.code, "invoke.connection_not_found");
    assert.match(gone.json.error.message, /no-such-connection/);

    const tooLong = await postJSON("invoke", { connectionId: c.connectionId, target: "silent", timeout: 21 });
    assert.equal(tooLong.status, 400, tooLong.text);
    assert.equal(tooLong.json.error.code, "invoke.invalid_request");
  });
});
