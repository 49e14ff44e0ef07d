// End-to-end tests of reconnecting with the real @microsoft/signalr client:
// a graceful emulator restart (SIGTERM: Close with allowReconnect) brings
// auto-reconnecting clients back, and stateful reconnect survives a socket
// cut by a TCP proxy between the client and the emulator, every message
// delivered exactly once and in order.
//
// Run after `make build`: cd e2e && node --test --test-concurrency=1 reconnect.test.js
import assert from "node:assert/strict";
import net from "node:net";
import { after, afterEach, describe, test } from "node:test";

import { HttpTransportType } from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";

import { connect, withTimeout } from "./lib/client.js";
import { emulatorKey, emulatorREST, freePort, sleep, startEmulator, startHandler } from "./lib/stack.js";

/**
 * A TCP proxy on 127.0.0.1 in front of targetPort; cut() destroys every
 * connection it carries (both sides), as a network failure would.
 */
function startProxy(targetPort) {
  const pairs = new Set();
  const srv = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => { client.destroy(); upstream.destroy(); pairs.delete(pair); };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => {
    srv.listen(0, "127.0.0.1", () => resolve({
      port: srv.address().port,
      cuts: 0,
      cut() {
        this.cuts++;
        for (const p of [...pairs]) { p.client.destroy(); p.upstream.destroy(); }
      },
      close: () => new Promise((r) => { for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); } srv.close(() => r()); }),
    }));
  });
}

/** Waits (bounded) until cond() is true. */
async function until(cond, what, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Sends m(i) to every client through the emulator's REST API. */
async function sendTo(emulator, i) {
  const res = await emulatorREST(emulator, "POST", "/:send", { body: { target: "m", arguments: [i] } });
  assert.equal(res.status, 202, res.text);
}

/** The numbers a client received on "m", in order. */
const received = (c) => c.inbox("m").map((args) => args[0]);

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

describe("reconnecting with @microsoft/signalr", () => {
  const cleanups = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f().catch(() => {});
  });
  after(() => {});

  for (const [name, protocol] of [["JSON", undefined], ["MessagePack", () => new MessagePackHubProtocol()]]) {
    test(`${name}: a graceful emulator restart brings an auto-reconnecting client back`, async () => {
      const port = await freePort();
      let emulator = await startEmulator({ port });
      cleanups.push(() => emulator.proc.stop());
      const handler = await startHandler({ AzureSignalRConnectionString: emulator.connectionString, ALLOW_ANONYMOUS: "true" });
      cleanups.push(() => handler.proc.stop());
      const c = await connect(`${handler.url}/api`, {
        targets: ["m"], protocol: protocol?.(), reconnect: [0, 100, 200, 300, 500, 500, 1000, 1000, 1000, 2000, 2000, 2000],
      });
      cleanups.push(() => c.stop());
      let reconnecting = 0, reconnected = 0, closed = 0;
      c.conn.onreconnecting(() => reconnecting++);
      c.conn.onreconnected(() => reconnected++);
      c.closed.then(() => closed++);

      for (const i of range(1, 5)) await sendTo(emulator, i);
      await until(() => received(c).length === 5, "messages 1-5");

      const exit = await emulator.proc.stop(); // SIGTERM: Close with allowReconnect
      assert.equal(exit.code, 0, `the emulator exited with ${JSON.stringify(exit)}:\n${emulator.proc.output}`);
      await until(() => reconnecting === 1, "onreconnecting after the emulator's Close");
      emulator = await startEmulator({ port });
      await until(() => reconnected === 1, "onreconnected once the emulator runs again", 15000);

      for (const i of range(6, 10)) await sendTo(emulator, i);
      await until(() => received(c).length >= 10, "messages 6-10");
      assert.deepEqual(received(c), range(1, 10));
      assert.equal(closed, 0, "the client gave up instead of reconnecting");
    });
  }

  for (const [name, protocol] of [["JSON", undefined], ["MessagePack", () => new MessagePackHubProtocol()]]) {
    test(`${name}: stateful reconnect survives a cut socket; every message exactly once, in order`, async () => {
      const emulator = await startEmulator();
      cleanups.push(() => emulator.proc.stop());
      const proxy = await startProxy(emulator.port);
      cleanups.push(() => proxy.close());
      // The handler gives clients the proxy's address as the service URL.
      const handler = await startHandler({
        AzureSignalRConnectionString: `Endpoint=http://127.0.0.1;Port=${proxy.port};AccessKey=${emulatorKey};Version=1.0;`,
        ALLOW_ANONYMOUS: "true",
      });
      cleanups.push(() => handler.proc.stop());
      const c = await connect(`${handler.url}/api`, {
        targets: ["m"], protocol: protocol?.(), stateful: true, transport: HttpTransportType.WebSockets,
      });
      cleanups.push(() => c.stop());
      assert.equal(c.conn.connection.features.reconnect, true, "the client did not enable stateful reconnect (negotiate did not offer it)");
      const id = c.connectionId;
      let reconnecting = 0, closed = 0;
      c.conn.onreconnecting(() => reconnecting++);
      c.closed.then(() => closed++);

      const total = 60;
      for (const i of range(1, total)) {
        await sendTo(emulator, i);
        // Cut mid-stream, twice: once with messages still unacknowledged
        // (the client acks after a second), once after a pause.
        if (i === 20) proxy.cut();
        if (i === 40) { await sleep(1200); proxy.cut(); }
      }
      await until(() => received(c).length >= total, `${total} messages`, 15000);
      await sleep(200); // a duplicate would arrive right behind
      assert.deepEqual(received(c), range(1, total), "lost, duplicated or reordered messages");
      assert.equal(proxy.cuts, 2);
      assert.equal(c.connectionId, id, "the connection id changed: the client reconnected from scratch");
      assert.equal(reconnecting, 0, "the client fell back to a normal reconnect");
      assert.equal(closed, 0);
      // Client-to-server messages keep working after the resume (answered
      // once: no upstream).
      await assert.rejects(withTimeout(c.conn.invoke("Echo", 1), 5000, "invoke"), /no upstream is configured/);
    });
  }
});
