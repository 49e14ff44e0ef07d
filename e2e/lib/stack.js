// Test helper: starts the emulator (bin/signalr-emulator) and the handler
// (./handler) built by `make build` on free loopback ports, waits until both
// answer, and stops both at the end. Everything here talks to 127.0.0.1 only
// and every wait is bounded.
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (e2e/..). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The emulator's default access key (also the dev connection string's). */
export const emulatorKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";

/** The hub every test uses (the handler's default AzureSignalRHubName). */
export const hub = "chat";

const startTimeoutMs = 15000;
const stopTimeoutMs = 5000;
const outputLimit = 64 * 1024;

/** Every child still running; killed on exit as a last resort. */
const running = new Set();
process.on("exit", () => {
  for (const child of running) {
    try { child.kill("SIGKILL"); } catch { /* already gone */ }
  }
});

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves after ms milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A started child process with its captured output (last 64 KiB).
 */
class Proc {
  constructor(name, file, args, env) {
    this.name = name;
    this.output = "";
    this.exited = null; // {code, signal} once exited
    if (!existsSync(file)) {
      throw new Error(`${name}: ${path.relative(repoRoot, file)} does not exist; run \`make build\` first`);
    }
    this.child = spawn(file, args, {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(this.child);
    const keep = (chunk) => {
      this.output += chunk.toString("utf8");
      if (this.output.length > outputLimit) this.output = this.output.slice(-outputLimit);
    };
    this.child.stdout.on("data", keep);
    this.child.stderr.on("data", keep);
    this.exitedPromise = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exited = { code, signal };
        running.delete(this.child);
        resolve(this.exited);
      });
      this.child.on("error", (err) => {
        this.output += `\nspawn error: ${err.message}\n`;
        this.exited = { code: -1, signal: null };
        running.delete(this.child);
        resolve(this.exited);
      });
    });
  }

  /** Resolves with the first capture group of re once the output matches (bounded). */
  async waitOutput(re, timeoutMs = startTimeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = this.output.match(re);
      if (m) return m[1];
      if (this.exited) break;
      await sleep(20);
    }
    throw new Error(`${this.name} did not print ${re} within ${timeoutMs} ms (exit: ${JSON.stringify(this.exited)}); output:\n${this.output}`);
  }

  /** Polls GET url until it answers any HTTP status (bounded). */
  async waitReady(url, timeoutMs = startTimeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      if (this.exited) {
        throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}) before it was ready; output:\n${this.output}`);
      }
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.status;
      } catch (err) {
        last = err.cause?.code || err.message;
      }
      await sleep(50);
    }
    throw new Error(`${this.name} did not answer GET ${url} within ${timeoutMs} ms (last: ${last}); output:\n${this.output}`);
  }

  /** SIGTERM, then SIGKILL after a bounded wait; resolves once exited. */
  async stop() {
    if (this.exited) return this.exited;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => { if (!this.exited) this.child.kill("SIGKILL"); }, stopTimeoutMs);
    const res = await this.exitedPromise;
    clearTimeout(timer);
    return res;
  }
}

/**
 * Starts the emulator on port (0: one the kernel picks) with extra args and
 * reads the bound address from its "listening on" line.
 * Returns {proc, url, port, key, connectionString}.
 */
export async function startEmulator({ key = emulatorKey, port = 0, args = [] } = {}) {
  const proc = new Proc("signalr-emulator", path.join(repoRoot, "bin", "signalr-emulator"),
    ["-addr", `127.0.0.1:${port}`, "-key", key, "-log-level", process.env.E2E_LOG_LEVEL || "warn", ...args], { PATH: process.env.PATH });
  let url;
  try {
    const port = await proc.waitOutput(/listening on 127\.0\.0\.1:(\d+)/);
    url = `http://127.0.0.1:${port}`;
    await proc.waitReady(`${url}/api/health`);
    return {
      proc,
      port: Number(port),
      url,
      key,
      connectionString: `Endpoint=http://127.0.0.1;Port=${port};AccessKey=${key};Version=1.0;`,
    };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/**
 * Starts ./handler on a free port with env added to a clean environment
 * (PATH and HOME only, so settings of the shell do not leak in).
 * Returns {proc, url, port}.
 */
export async function startHandler(env, port) {
  port ??= await freePort();
  const proc = new Proc("handler", path.join(repoRoot, "handler"), [], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    FUNCTIONS_CUSTOMHANDLER_PORT: String(port),
    HANDLER_LISTEN_HOST: "127.0.0.1",
    LOG_LEVEL: process.env.E2E_LOG_LEVEL || "warn",
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await proc.waitReady(`${url}/`);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { proc, port, url };
}

/**
 * Starts the emulator and a handler pointed at it. handlerEnv adds settings;
 * upstream: true makes the handler's /api/upstream the emulator's upstream
 * (-upstream), as `make dev` does, so client invocations reach the chat hub.
 * Returns {emulator, handler, stop()}; stop() stops both and never throws.
 */
export async function startStack(handlerEnv = {}, { upstream = false, emulatorArgs = [] } = {}) {
  const handlerPort = upstream ? await freePort() : undefined;
  const args = upstream ? ["-upstream", `http://127.0.0.1:${handlerPort}/api/upstream`, ...emulatorArgs] : emulatorArgs;
  const emulator = await startEmulator({ args });
  let handler;
  try {
    handler = await startHandler({
      AzureSignalRConnectionString: emulator.connectionString,
      ...handlerEnv,
    }, handlerPort);
  } catch (err) {
    await emulator.proc.stop();
    throw err;
  }
  return {
    emulator,
    handler,
    async stop() {
      await Promise.allSettled([handler.proc.stop(), emulator.proc.stop()]);
    },
    /** Output of both processes, for failure messages. */
    logs() {
      return `--- handler ---\n${handler.proc.output}\n--- emulator ---\n${emulator.proc.output}`;
    },
  };
}

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** Signs an HS256 JWT over claims with secret (a string: its UTF-8 bytes). */
export function signHS256(claims, secret) {
  const head = b64url({ alg: "HS256", typ: "JWT" });
  const body = b64url(claims);
  const sig = createHmac("sha256", Buffer.from(secret, "utf8")).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** Seconds since 1970. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A random secret long enough for AUTH_JWT_SECRET (≥ 32 bytes). */
export const newSecret = () => randomBytes(32).toString("base64url");

/**
 * Calls the emulator's REST API (api-version 2022-06-01) as a backend
 * would: a server token signed with the access key, aud = the request URL
 * without the query. query holds extra parameters (reason, excluded...).
 */
export async function emulatorREST(emulator, method, pathAfterHub, { query = {}, body } = {}) {
  const base = `${emulator.url}/api/hubs/${hub}${pathAfterHub}`;
  const aud = `http://localhost/api/hubs/${hub}${pathAfterHub}`;
  const token = signHS256({ aud, exp: nowSeconds() + 300, iat: nowSeconds(), nameid: "e2e-server" }, emulator.key);
  const qs = new URLSearchParams({ "api-version": "2022-06-01" });
  for (const [k, v] of Object.entries(query)) {
    for (const one of [].concat(v)) qs.append(k, one);
  }
  const res = await fetch(`${base}?${qs}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

const seg = encodeURIComponent;

/**
 * Does what the handler's /api/broadcast does for one output-binding item,
 * straight against the emulator's REST API. Used only when E2E_BROADCAST=
 * emulator, to exercise the tests' logic while the handler lacks broadcast.
 */
export async function emulatorBroadcast(emulator, item) {
  if (Array.isArray(item)) {
    let last;
    for (const one of item) last = await emulatorBroadcast(emulator, one);
    return last ?? { status: 202, text: "{}", json: {} };
  }
  let res;
  if (item.action) {
    const action = item.action.toLowerCase();
    const method = action === "add" ? "PUT" : "DELETE";
    if (action === "removeall") {
      res = item.userId
        ? await emulatorREST(emulator, "DELETE", `/users/${seg(item.userId)}/groups`)
        : await emulatorREST(emulator, "DELETE", `/connections/${seg(item.connectionId)}/groups`);
    } else if (item.userId) {
      res = await emulatorREST(emulator, method, `/users/${seg(item.userId)}/groups/${seg(item.groupName)}`);
    } else {
      res = await emulatorREST(emulator, method, `/groups/${seg(item.groupName)}/connections/${seg(item.connectionId)}`);
    }
  } else {
    const body = { target: item.target, arguments: item.arguments ?? [] };
    const query = item.excluded?.length ? { excluded: item.excluded } : {};
    let p = "/:send";
    if (item.connectionId) p = `/connections/${seg(item.connectionId)}/:send`;
    else if (item.userId) p = `/users/${seg(item.userId)}/:send`;
    else if (item.groupName) p = `/groups/${seg(item.groupName)}/:send`;
    res = await emulatorREST(emulator, "POST", p, { query, body });
  }
  if (res.status >= 300) return { status: res.status, text: res.text, json: undefined };
  return { status: 202, text: "{}", json: { emulatorStatus: res.status } };
}

/** POSTs body as JSON to the handler's /api/broadcast. */
export async function broadcast(handler, body) {
  const res = await fetch(`${handler.url}/api/broadcast`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, text, json };
}

/**
 * Returns a skip reason when the handler's /api/broadcast is not
 * implemented yet (501 request.not_implemented), else false. Tests of
 * broadcast pass it to node:test's {skip}, so they turn on by themselves
 * once broadcast lands.
 */
export async function broadcastMissing(handler) {
  const res = await broadcast(handler, [] /* an empty batch: probe only */);
  if (res.status === 501) {
    return `POST /api/broadcast answers 501 (${res.json?.error?.code ?? "not implemented"}) in this build; these tests run once broadcast is implemented`;
  }
  return false;
}
