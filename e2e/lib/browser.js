// Test helper: Debian's chromium for the browser tests (never downloaded).
import { accessSync, constants } from "node:fs";
import path from "node:path";

/** Flags for Debian's chromium in a container without a display or network. */
export const chromiumFlags = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/** Path of the chromium executable on PATH, or "". */
export function findChromium() {
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, "chromium");
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return "";
}
