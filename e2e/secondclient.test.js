// A second client implementation against the emulator: @aspnet/signalr
// 1.1.4 with @aspnet/signalr-protocol-msgpack 1.1.0, the ASP.NET Core 2.x
// generation of Microsoft's client. It predates negotiateVersion (it
// negotiates version 0: no connectionToken, the transport id is the
// connection id), encodes MessagePack with msgpack5 instead of
// @msgpack/msgpack, and sends its access token in the query string on
// WebSockets. (github.com/philippseith/signalr, the Go client the issue
// names, is not available from the Go module proxy here.)
//
// Run after `make build`: cd e2e && node --test --test-concurrency=1 secondclient.test.js
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, test } from "node:test";

import * as signalr1 from "@aspnet/signalr";
import { MessagePackHubProtocol } from "@aspnet/signalr-protocol-msgpack";

import { withTimeout } from "./lib/client.js";
import { emulatorREST, startStack } from "./lib/stack.js";

/** Values both protocols carry the same way in this client generation. */
const values = [12345678901, -42, 1.25, "héllo ✓ 😀", null, true, { nested: { list: [1, [2, { deep: null }]] } }, []];

describe("second client: @aspnet/signalr 1.1.4 + MessagePack (negotiate version 0)", () => {
  let stack, api;
  const conns = [];

  before(async () => {
    stack = await startStack({ ALLOW_ANONYMOUS: "true" });
    api = `${stack.handler.url}/api`;
  });
  after(async () => { await stack?.stop(); });
  afterEach(async () => {
    await Promise.allSettled(conns.splice(0).map((c) => withTimeout(c.stop(), 5000, "stop")));
  });

  for (const transport of [signalr1.HttpTransportType.WebSockets, signalr1.HttpTransportType.LongPolling]) {
    const name = signalr1.HttpTransportType[transport];
    for (const [proto, protocol] of [["MessagePack", () => new MessagePackHubProtocol()], ["JSON", () => new signalr1.JsonHubProtocol()]]) {
      test(`${name}, ${proto}: connects, receives a broadcast with its values, gets the no-upstream error for an invocation`, async () => {
        const conn = new signalr1.HubConnectionBuilder()
          .withUrl(api, { transport })
          .withHubProtocol(protocol())
          .configureLogging(signalr1.LogLevel.Warning)
          .build();
        conns.push(conn);
        const got = [];
        let wake = () => {};
        conn.on("values", (...args) => { got.push(args); wake(); });
        await withTimeout(conn.start(), 10000, "start");
        const tag = randomUUID();
        const res = await emulatorREST(stack.emulator, "POST", "/:send", { body: { target: "values", arguments: [tag, ...values] } });
        assert.equal(res.status, 202, res.text);
        await withTimeout(new Promise((resolve) => { wake = resolve; if (got.length) resolve(); }), 5000, "the broadcast");
        assert.deepEqual(got[0], [tag, ...values]);
        await assert.rejects(withTimeout(conn.invoke("SendMessage", "hi"), 5000, "invoke"), /no upstream is configured/);
      });
    }
  }
});
