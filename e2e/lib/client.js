// Test helper: real @microsoft/signalr connections with an inbox per target
// and captured client logs. Waits are bounded.
import { HubConnectionBuilder, HubConnectionState, LogLevel } from "@microsoft/signalr";

const defaultWaitMs = 5000;

/** A logger for the client that keeps its lines (printed on failure). */
class MemoryLogger {
  constructor() { this.lines = []; }
  log(level, message) {
    if (level >= LogLevel.Information) this.lines.push(`${LogLevel[level]}: ${message}`);
  }
}

/**
 * A started connection with the messages it received:
 * conn (HubConnection), inbox(target) (array), next(target, ms), closed
 * (promise of the Error given to onclose, or undefined).
 */
export class Client {
  constructor(conn, logger, targets) {
    this.conn = conn;
    this.logger = logger;
    this.inboxes = new Map();
    this.waiters = [];
    for (const target of targets) {
      this.inboxes.set(target, []);
      conn.on(target, (...args) => {
        this.inboxes.get(target).push(args);
        this.waiters = this.waiters.filter((w) => !w.check());
      });
    }
    this.closed = new Promise((resolve) => conn.onclose((err) => resolve(err)));
  }

  get connectionId() { return this.conn.connectionId; }

  inbox(target) { return this.inboxes.get(target); }

  /** Resolves with the arguments of the first message on target satisfying pred. */
  next(target, pred = () => true, ms = defaultWaitMs) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          const hit = this.inbox(target).find((args) => pred(...args));
          if (!hit) return false;
          clearTimeout(w.timer);
          resolve(hit);
          return true;
        },
      };
      if (w.check()) return;
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no "${target}" message within ${ms} ms on ${this.connectionId}; got ${JSON.stringify(this.inbox(target))}; client log:\n${this.logger.lines.join("\n")}`));
      }, ms);
      this.waiters.push(w);
    });
  }

  async stop() {
    if (this.conn.state !== HubConnectionState.Disconnected) {
      await Promise.race([this.conn.stop(), new Promise((r) => setTimeout(r, 5000))]);
    }
  }
}

/**
 * Builds, starts and returns a Client for baseUrl (the handler's /api),
 * listening on targets. protocol (an IHubProtocol) replaces JSON, reconnect
 * (an array of delays) turns on automatic reconnect, stateful on stateful
 * reconnect; the other options go to withUrl (accessTokenFactory, headers,
 * transport).
 */
export async function connect(baseUrl, { targets = ["newMessage"], protocol, reconnect, stateful, ...options } = {}) {
  const logger = new MemoryLogger();
  let builder = new HubConnectionBuilder()
    .withUrl(baseUrl, options)
    .configureLogging(logger);
  if (protocol) builder = builder.withHubProtocol(protocol);
  if (reconnect) builder = builder.withAutomaticReconnect(reconnect);
  if (stateful) builder = builder.withStatefulReconnect();
  const conn = builder.build();
  const client = new Client(conn, logger, targets);
  try {
    await withTimeout(conn.start(), 10000, "connection start");
  } catch (err) {
    err.message += `\nclient log:\n${logger.lines.join("\n")}`;
    throw err;
  }
  return client;
}

/** Rejects when p does not settle within ms. */
export function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms); }),
  ]);
}

/** Decodes the payload of a JWT (no verification: for assertions only). */
export function jwtPayload(token) {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error(`not a JWT: ${parts.length} parts`);
  return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
}
