// Browser end-to-end test: Debian's chromium (driven by playwright-core, no
// browser download) loads a page from a third origin; the page negotiates
// with ./handler (CORS with credentials), follows the redirect to the
// emulator (CORS with credentials again, access_token on the WebSocket),
// and renders a broadcast in the DOM.
//
// Needs `chromium` on PATH: scripts/install-deps.sh installs it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { chromiumFlags, findChromium } from "./lib/browser.js";
import { broadcastMissing, emulatorBroadcast, emulatorKey, freePort, startEmulator, startHandler, startStack } from "./lib/stack.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.join(here, "artifacts");
const bundle = path.join(here, "node_modules", "@microsoft", "signalr", "dist", "browser", "signalr.min.js");

/** The page: connects to `${api}`, renders newMessage into #messages. */
function pageHTML(api) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>e2e</title>
<style>body{font:16px sans-serif;margin:1rem} li{padding:.2rem 0}</style></head>
<body>
<h1>e2e browser client</h1>
<p>state: <b id="state">loading</b> <code id="cid"></code></p>
<p id="error" style="color:#a00"></p>
<ul id="messages"></ul>
<script src="/signalr.min.js"></script>
<script>
  const api = ${JSON.stringify(api)};
  const state = (s) => { document.getElementById("state").textContent = s; window.__state = s; };
  const conn = new signalR.HubConnectionBuilder().withUrl(api).configureLogging(signalR.LogLevel.Warning).build();
  window.__conn = conn;
  conn.on("newMessage", (m) => {
    const li = document.createElement("li");
    li.className = "message";
    li.textContent = m.name + ": " + m.text;
    document.getElementById("messages").append(li);
  });
  conn.onclose((err) => { state("disconnected"); document.getElementById("error").textContent = err ? err.message : ""; });
  state("connecting");
  conn.start().then(() => {
    state("connected");
    document.getElementById("cid").textContent = conn.connectionId;
  }, (err) => {
    state("failed");
    document.getElementById("error").textContent = String(err && err.message || err);
  });
  // Sends through the handler from this (third) origin: a CORS POST.
  window.__send = async (body) => {
    const res = await fetch(api + "/broadcast", {
      method: "POST", credentials: "include",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };
</script>
</body></html>`;
}

/** Serves the page and the SignalR bundle on 127.0.0.1:<free port>. */
function startPageServer() {
  let html = "";
  const js = readFileSync(bundle);
  const srv = http.createServer((req, res) => {
    if (req.url === "/" || req.url === "/index.html") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
      res.end(html);
    } else if (req.url === "/signalr.min.js") {
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" });
      res.end(js);
    } else {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found");
    }
  });
  return new Promise((resolve, reject) => {
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const origin = `http://127.0.0.1:${srv.address().port}`;
      resolve({
        origin,
        setPage(api) { html = pageHTML(api); },
        close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
      });
    });
  });
}

describe("browser: Debian chromium + @microsoft/signalr browser bundle", () => {
  let stack, pages, context, userDataDir;
  const consoleLines = [];

  before(async () => {
    const exe = findChromium();
    assert.ok(exe, "chromium is not on PATH: run scripts/install-deps.sh (it installs Debian's chromium; the browser test does not download one)");
    pages = await startPageServer();
    stack = await startStack({
      ALLOW_ANONYMOUS: "true", CORS_ALLOWED_ORIGINS: pages.origin, CORS_ALLOW_CREDENTIALS: "true", DEV_CHAT_PAGE: "true",
    }, { upstream: true });
    pages.setPage(`${stack.handler.url}/api`);
    userDataDir = mkdtempSync(path.join(os.tmpdir(), "e2e-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: exe,
      headless: true,
      args: chromiumFlags,
      timeout: 30000,
    });
  });

  after(async () => {
    await context?.close().catch(() => {});
    await stack?.stop();
    await pages?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  test("the page negotiates across origins, connects, and renders a broadcast", async (t) => {
    const page = await context.newPage();
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    const sockets = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
    const diag = () => `browser console:\n${consoleLines.join("\n")}\n${stack.logs()}`;

    await page.goto(`${pages.origin}/`, { timeout: 10000 });
    try {
      await page.waitForFunction(() => window.__state === "connected" || window.__state === "failed", null, { timeout: 15000 });
    } catch (err) {
      assert.fail(`the page did not connect: ${err.message}\n${diag()}`);
    }
    const st = await page.evaluate(() => ({ state: window.__state, error: document.getElementById("error").textContent }));
    assert.equal(st.state, "connected", `start failed in the browser: ${st.error}\n${diag()}`);
    const cid = await page.textContent("#cid");
    assert.ok(cid.length > 0, "the page shows no connection id");

    const text = `hello browser ${randomUUID()}`;
    const body = { target: "newMessage", arguments: [{ name: "e2e", text }] };
    const missing = await broadcastMissing(stack.handler);
    if (missing) {
      // Until the handler broadcasts, send straight through the emulator's
      // REST API so the browser path (negotiate, CORS, WebSocket) is still
      // checked end to end.
      t.diagnostic(`${missing}; sending through the emulator's REST API instead`);
      const res = await emulatorBroadcast(stack.emulator, body);
      assert.equal(res.status, 202, res.text);
    } else {
      const res = await page.evaluate((b) => window.__send(b), body);
      assert.equal(res.status, 202, `POST /api/broadcast from the page (CORS) answered ${res.status}: ${res.text}\n${diag()}`);
    }

    const li = page.locator("li.message", { hasText: text });
    try {
      await li.waitFor({ timeout: 10000 });
    } catch (err) {
      assert.fail(`the message was not rendered: ${err.message}\n${diag()}`);
    }
    assert.equal(await li.textContent(), `e2e: ${text}`);

    mkdirSync(artifacts, { recursive: true });
    const shot = path.join(artifacts, "browser.png");
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${path.relative(process.cwd(), shot)}`);

    // The WebSocket went to the emulator, with the token in the query
    // string as browsers must send it.
    assert.equal(sockets.length, 1, `WebSockets opened: ${JSON.stringify(sockets)}`);
    const ws = new URL(sockets[0]);
    assert.equal(`${ws.protocol}//${ws.host}${ws.pathname}`, `ws://127.0.0.1:${stack.emulator.port}/client/`);
    assert.equal(ws.searchParams.get("hub"), "chat");
    assert.ok(ws.searchParams.get("id"), "no id= on the WebSocket URL");
    assert.equal(ws.searchParams.get("access_token")?.split(".").length, 3, "no access_token JWT on the WebSocket URL");
    await page.close();
  });

  test("the dev chat page (/chat/) sends with invoke, shows presence and joins a room", async () => {
    const page = await context.newPage();
    const lines = [];
    page.on("console", (m) => lines.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => lines.push(`pageerror: ${e.message}`));
    const diag = () => `browser console:\n${lines.join("\n")}\n${stack.logs()}`;
    await page.goto(`${stack.handler.url}/chat/`, { timeout: 10000 });
    try {
      await page.waitForFunction(() => document.getElementById("state").textContent === "connected", null, { timeout: 15000 });
    } catch (err) {
      assert.fail(`the chat page did not connect (${await page.textContent("#state")}: ${await page.textContent("#error")}): ${err.message}\n${diag()}`);
    }
    assert.ok((await page.textContent("#connection-id")).length > 0, "no connection id shown");
    const text = `chat ${randomUUID()}`;
    await page.fill("#name", "Ada");
    await page.fill("#text", text);
    await page.click("button[type=submit]");
    const li = page.locator("#messages li", { hasText: text });
    try {
      await li.waitFor({ timeout: 10000 });
    } catch (err) {
      assert.fail(`the chat message was not shown (error line: ${await page.textContent("#error")}): ${err.message}\n${diag()}`);
    }
    assert.equal(await li.locator(".name").textContent(), "Ada");
    assert.equal(await li.locator(".text").textContent(), text);
    // The broadcast can reach the page before the invoke's completion does,
    // and the box is cleared only on the completion: wait for it.
    try {
      await page.waitForFunction(() => document.getElementById("text").value === "", null, { timeout: 10000 });
    } catch (err) {
      assert.fail(`the message box was not cleared after a successful send (${await page.inputValue("#text")}; error line: ${await page.textContent("#error")}): ${err.message}\n${diag()}`);
    }
    assert.equal(await page.textContent("#error"), "");
    // The page's own connect, and the hub's presence of it.
    await page.locator("#messages li.presence", { hasText: "joined" }).first().waitFor({ timeout: 10000 });
    // A room: join, send into it, see it labelled with the room.
    await page.fill("#room", "lobby");
    await page.click("#join");
    await page.waitForFunction(() => document.getElementById("join").textContent === "Leave lobby", null, { timeout: 10000 });
    const inRoom = `room ${randomUUID()}`;
    await page.fill("#text", inRoom);
    await page.click("button[type=submit]");
    const rli = page.locator("#messages li", { hasText: inRoom });
    await rli.waitFor({ timeout: 10000 });
    assert.equal(await rli.locator(".name").textContent(), "[lobby] Ada");
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, "chat.png") });
    await page.close();
  });

  test("the dev chat page shows the handler's explanation when negotiate is refused", async () => {
    const strict = await startHandler({
      AzureSignalRConnectionString: stack.emulator.connectionString, ALLOW_ANONYMOUS: "false", DEV_CHAT_PAGE: "true",
    });
    try {
      const page = await context.newPage();
      await page.goto(`${strict.url}/chat/`, { timeout: 10000 });
      await page.waitForFunction(() => /Retrying/.test(document.getElementById("error").textContent), null, { timeout: 15000 });
      const error = await page.textContent("#error");
      assert.match(error, /401/, error);
      assert.match(error, /negotiate\.unauthenticated: /, error);
      assert.equal(await page.textContent("#state"), "disconnected");
      await page.close();
    } finally {
      await strict.proc.stop();
    }
  });

  test("the dev chat page explains a service that is down and keeps Send off", async (t) => {
    // A handler whose connection string points at a port nobody listens on.
    const dead = await freePort();
    const handler = await startHandler({
      AzureSignalRConnectionString: `Endpoint=http://127.0.0.1;Port=${dead};AccessKey=${emulatorKey};Version=1.0;`,
      ALLOW_ANONYMOUS: "true", DEV_CHAT_PAGE: "true",
    });
    try {
      const page = await context.newPage();
      await page.goto(`${handler.url}/chat/`, { timeout: 10000 });
      await page.waitForFunction(() => /Retrying/.test(document.getElementById("error").textContent), null, { timeout: 15000 });
      const error = await page.textContent("#error");
      // Where it tried, which hop failed (the service, not the handler), and at which address.
      assert.match(error, new RegExp(`Tried: POST ${handler.url.replace("127.0.0.1", "127\\.0\\.0\\.1")}/api/negotiate`), error);
      assert.match(error, /The handler answered/, error);
      assert.match(error, new RegExp(`SignalR service does not answer at http://127\\.0\\.0\\.1:${dead}`), error);
      assert.doesNotMatch(error, /^Failed to complete negotiation/m, error);
      assert.equal(await page.textContent("#state"), "disconnected");
      assert.equal(await page.isDisabled("#send-button"), true, "Send is enabled while disconnected");
      mkdirSync(artifacts, { recursive: true });
      const shot = path.join(artifacts, "chat-service-down.png");
      await page.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`screenshot: ${path.relative(process.cwd(), shot)}`);
      await page.close();
    } finally {
      await handler.proc.stop();
    }
  });

  test("the dev chat page shows reconnecting, then reconnected, with Send off in between", async () => {
    let emulator = await startEmulator();
    const handler = await startHandler({
      AzureSignalRConnectionString: emulator.connectionString, ALLOW_ANONYMOUS: "true", DEV_CHAT_PAGE: "true",
    });
    const page = await context.newPage();
    try {
      await page.goto(`${handler.url}/chat/`, { timeout: 10000 });
      await page.waitForFunction(() => document.getElementById("state").textContent === "connected", null, { timeout: 15000 });
      assert.equal(await page.isDisabled("#send-button"), false, "Send is disabled while connected");

      await emulator.proc.stop(); // the service goes away under the open connection
      await page.waitForFunction(() => document.getElementById("state").textContent === "reconnecting…", null, { timeout: 15000 });
      assert.equal(await page.isDisabled("#send-button"), true, "Send is enabled while reconnecting");
      assert.match(await page.textContent("#error"), /reconnecting/i);

      emulator = await startEmulator({ port: emulator.port }); // back on the same address
      await page.waitForFunction(() => document.getElementById("state").textContent === "reconnected", null, { timeout: 20000 });
      assert.equal(await page.isDisabled("#send-button"), false, "Send stays disabled after reconnecting");
      assert.equal(await page.textContent("#error"), "");
    } finally {
      await page.close();
      await handler.proc.stop();
      await emulator.proc.stop();
    }
  });

  test("a page from an origin missing from CORS_ALLOWED_ORIGINS cannot negotiate", async () => {
    const other = await startPageServer();
    try {
      other.setPage(`${stack.handler.url}/api`);
      const page = await context.newPage();
      await page.goto(`${other.origin}/`, { timeout: 10000 });
      await page.waitForFunction(() => window.__state === "connected" || window.__state === "failed", null, { timeout: 15000 });
      const st = await page.evaluate(() => ({ state: window.__state, error: document.getElementById("error").textContent }));
      assert.equal(st.state, "failed", "a page from a foreign origin connected: CORS let it through");
      assert.match(st.error, /fetch|negotiat/i);
      await page.close();
    } finally {
      await other.close();
    }
  });
});
