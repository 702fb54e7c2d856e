// Why: what every browser walk shares — the system Chromium's flags, TAP-style steps, polling waits, a
// watchdog that ends a hung run, and the exit status — so the `beekeeper dev` walk (e2e.mjs) and the
// deployed-room walk (deployed.mjs) check the page the same way.

import { chromium } from "playwright-core";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "../..");
export const shots = path.join(here, "screenshots");
export const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
export const browserArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export function log(s) { process.stdout.write(s + "\n"); }

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, fn, ms = 30_000, every = 200) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ": " + last.message : ""}`);
}

export const tally = { passed: 0, failed: 0 };

export async function step(name, fn) {
  try {
    await fn();
    tally.passed++;
    log(`ok - ${name}`);
  } catch (e) {
    tally.failed++;
    log(`not ok - ${name}\n  ${String(e && e.stack || e).split("\n").join("\n  ")}`);
  }
}

export function launch(extraArgs = []) {
  // launch() gives the browser a fresh, temporary --user-data-dir of its own (Playwright refuses the flag).
  return chromium.launch({ executablePath: chromiumPath, args: [...browserArgs, ...extraArgs], timeout: 30_000 });
}

// Runs `main`, then `cleanup` however it ends (a watchdog ends a run that outlives `deadlineMs`), prints
// the tally and exits non-zero if any step failed.
export async function run(main, cleanup, deadlineMs) {
  const watchdog = setTimeout(async () => {
    log(`not ok - the run did not finish within ${deadlineMs / 1000} s`);
    await cleanup();
    process.exit(1);
  }, deadlineMs);
  try {
    await main();
  } catch (e) {
    tally.failed++;
    log(`not ok - setup\n  ${String(e && e.stack || e).split("\n").join("\n  ")}`);
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
  log(`${tally.passed} passed, ${tally.failed} failed`);
  process.exit(tally.failed ? 1 : 0);
}
