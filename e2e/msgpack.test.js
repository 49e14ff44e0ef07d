// End-to-end tests of the MessagePack hub protocol with the real
// @microsoft/signalr-protocol-msgpack client: in Node on WebSockets and long
// polling (negotiating through ./handler, as the chat page does), next to a
// JSON client in the same broadcast, and in Debian's chromium.
//
// Run after `make build`: cd e2e && node --test --test-concurrency=1 msgpack.test.js
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { HttpTransportType } from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import { chromium } from "playwright-core";

import { chromiumFlags, findChromium } from "./lib/browser.js";
import { connect } from "./lib/client.js";
import { emulatorREST, startStack } from "./lib/stack.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Every kind of value a JSON REST payload carries. */
const values = [
  9007199254740993, -42, 0, 18446744073709551615, 1.25, -0.5, 1e300,
  "héllo ✓ 😀 \u2028", "", null, true, false,
  { nested: { list: [1, [2, { deep: null }]], s: "x" } }, [], {},
];

describe("MessagePack hub protocol with @microsoft/signalr-protocol-msgpack 10.0.11", () => {
  let stack, api;
  const clients = [];

  before(async () => {
    stack = await startStack({ ALLOW_ANONYMOUS: "true" });
    api = `${stack.handler.url}/api`;
  });

  after(async () => {
    await stack?.stop();
  });

  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((c) => c.stop()));
  });

  async function open(options) {
    const c = await connect(api, options);
    clients.push(c);
    return c;
  }

  async function sendAll(target, args) {
    const res = await emulatorREST(stack.emulator, "POST", "/:send", { body: { target, arguments: args } });
    assert.equal(res.status, 202, res.text);
  }

  for (const transport of [HttpTransportType.WebSockets, HttpTransportType.LongPolling]) {
    const name = HttpTransportType[transport];

    test(`${name}: JSON and MessagePack clients in one broadcast see the same values`, async () => {
      const json = await open({ targets: ["values"], transport });
      const mp = await open({ targets: ["values"], transport, protocol: new MessagePackHubProtocol() });
      assert.equal(mp.conn.connection.transport.constructor.name, transport === HttpTransportType.WebSockets ? "WebSocketTransport" : "LongPollingTransport");
      const tag = randomUUID();
      await sendAll("values", [tag, ...values]);
      const [gotJSON, gotMP] = await Promise.all([
        json.next("values", (t) => t === tag),
        mp.next("values", (t) => t === tag),
      ]);
      assert.deepEqual(gotJSON, [tag, ...JSON.parse(JSON.stringify(values))]);
      assert.deepEqual(gotMP, gotJSON, "the MessagePack client saw other values than the JSON client");
    });

    test(`${name}: an invocation without upstream is answered with an error, the connection stays`, async () => {
      const mp = await open({ targets: ["after"], transport, protocol: new MessagePackHubProtocol() });
      await assert.rejects(mp.conn.invoke("SendMessage", "hi"), /no upstream is configured/);
      await sendAll("after", [1]);
      assert.deepEqual(await mp.next("after"), [1]);
    });
  }

  test("WebSockets: a REST close reaches the MessagePack client with its reason", async () => {
    const mp = await open({ targets: [], protocol: new MessagePackHubProtocol() });
    const reason = `msgpack close ${randomUUID()}`;
    const res = await emulatorREST(stack.emulator, "DELETE", `/connections/${mp.connectionId}`, { query: { reason } });
    assert.equal(res.status, 200, res.text);
    const err = await mp.closed;
    assert.match(String(err?.message), new RegExp(`Server returned an error on close: ${reason}`));
  });

  test("chromium: the browser bundle with MessagePack receives a broadcast with values intact", async (t) => {
    const exe = findChromium();
    assert.ok(exe, "chromium is not on PATH: run scripts/install-deps.sh");
    const files = {
      "/signalr.min.js": readFileSync(path.join(here, "node_modules/@microsoft/signalr/dist/browser/signalr.min.js")),
      "/msgpack.min.js": readFileSync(path.join(here, "node_modules/@microsoft/signalr-protocol-msgpack/dist/browser/signalr-protocol-msgpack.min.js")),
    };
    let html = "";
    const srv = http.createServer((req, res) => {
      if (req.url === "/") {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        res.end(html);
      } else if (files[req.url]) {
        res.writeHead(200, { "Content-Type": "text/javascript" });
        res.end(files[req.url]);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise((r) => srv.listen(0, "127.0.0.1", r));
    const origin = `http://127.0.0.1:${srv.address().port}`;
    // A handler of its own that allows this page's origin.
    const browserStack = await startStack({ ALLOW_ANONYMOUS: "true", CORS_ALLOWED_ORIGINS: origin, CORS_ALLOW_CREDENTIALS: "true" });
    const userDataDir = mkdtempSync(path.join(os.tmpdir(), "e2e-chromium-msgpack-"));
    let context;
    try {
      html = `<!doctype html><meta charset="utf-8"><script src="/signalr.min.js"></script><script src="/msgpack.min.js"></script>
<script>
  const conn = new signalR.HubConnectionBuilder().withUrl(${JSON.stringify(`${browserStack.handler.url}/api`)})
    .withHubProtocol(new signalR.protocols.msgpack.MessagePackHubProtocol()).build();
  window.__got = null;
  conn.on("values", (...args) => { window.__got = args; });
  conn.start().then(() => { window.__state = "connected:" + conn.connection.transport.constructor.name; }, (e) => { window.__state = "failed: " + e; });
</script>`;
      context = await chromium.launchPersistentContext(userDataDir, { executablePath: exe, headless: true, args: chromiumFlags, timeout: 30000 });
      const page = await context.newPage();
      const consoleLines = [];
      page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
      const sockets = [];
      page.on("websocket", (ws) => sockets.push(ws.url()));
      await page.goto(`${origin}/`, { timeout: 10000 });
      await page.waitForFunction(() => window.__state, null, { timeout: 15000 });
      const state = await page.evaluate(() => window.__state);
      assert.match(state, /^connected:/, `${state}\n${consoleLines.join("\n")}\n${browserStack.logs()}`);
      // The minified bundle renames classes: the WebSocket the page opened to
      // the emulator shows the transport.
      assert.equal(sockets.length, 1, `WebSockets opened: ${JSON.stringify(sockets)}`);
      assert.ok(sockets[0].startsWith(`ws://127.0.0.1:${browserStack.emulator.port}/client/`), sockets[0]);
      const tag = randomUUID();
      const res = await emulatorREST(browserStack.emulator, "POST", "/:send", { body: { target: "values", arguments: [tag, ...values] } });
      assert.equal(res.status, 202, res.text);
      await page.waitForFunction(() => window.__got !== null, null, { timeout: 10000 });
      assert.deepEqual(await page.evaluate(() => window.__got), [tag, ...JSON.parse(JSON.stringify(values))]);
    } finally {
      await context?.close().catch(() => {});
      await browserStack.stop();
      await new Promise((r) => { srv.closeAllConnections(); srv.close(r); });
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });
});
