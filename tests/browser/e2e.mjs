// Why: walks real visitors through a `beekeeper dev` room in headless Chromium (the system's, driven by
// playwright-core): arrival in one request (the page, which comes with the place; the first scheduled poll
// is the join that confirms it) with nothing blocked by the page's CSP, a place in line kept across reloads, a tab that wakes up re-checking, "busy" and "session ended"
// answers, admission into the demo
// destination which verifies the pass with /client-check, refusal of a line-skipper, the room switched off,
// and a 320 px wide phone. Screenshots go to tests/browser/screenshots/.
//
// Run: cargo build -p beekeeper && npm ci --prefix tests/browser && node tests/browser/e2e.mjs
// BEEKEEPER_BIN overrides the binary (default target/debug/beekeeper); CHROMIUM the browser.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { browserArgs, chromiumPath, launch, log, root, run, shots, sleep, step, waitFor } from "./harness.mjs";

const bin = process.env.BEEKEEPER_BIN || path.join(root, "target/debug/beekeeper");
const DEADLINE_MS = 150_000; // the whole run, start to finish
const MINUTE_SECS = 5; // a release "minute", so admission comes within seconds
// The room starts at 1 visitor a "minute" with twenty people ahead of ours, so nobody we watch can be
// released before the 21st tick (105 s after start) while the waiting-page steps run; the admission step
// then raises the rate.

let server = null;
let browser = null;
let admittedPass = ""; // the pass the admitted visitor arrived with, for the tampering check

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    const gone = new Promise((r) => server.once("exit", r));
    const late = setTimeout(() => server.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(late);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function freePortPair() {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p < 65535 && (await portFree(p + 1))) return p;
  }
  throw new Error("no pair of free loopback ports");
}

async function main() {
  if (!existsSync(bin)) throw new Error(`${bin} not found: run \`cargo build -p beekeeper\` first (or set BEEKEEPER_BIN)`);
  mkdirSync(shots, { recursive: true });
  const port = await freePortPair();
  const origin = `http://127.0.0.1:${port}`;
  const dest = `http://127.0.0.1:${port + 1}/`;
  let stderr = "";
  server = spawn(bin, ["dev", "--port", String(port), "--minute-secs", String(MINUTE_SECS), "--rate", "1"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.on("data", () => {});
  server.stderr.on("data", (d) => { stderr += d; });
  server.on("exit", (code) => { if (code) log(`# beekeeper dev exited with ${code}:\n${stderr}`); });
  await waitFor("beekeeper dev to answer", async () => (await fetch(`${origin}/__dev/stats`)).ok);

  const stats = async () => (await fetch(`${origin}/__dev/stats`)).json();
  const control = async (body) => {
    const r = await fetch(`${origin}/__dev/room`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    assert.equal(r.status, 200, `POST /__dev/room ${JSON.stringify(body)}`);
  };
  const ticketOf = async (ctx) => (await ctx.cookies(origin)).find((c) => c.name === "bk_ticket")?.value;

  browser = await launch();

  // Twenty visitors ahead of ours, so the page has a line to show (joining as the page's script does).
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${origin}/join`, { method: "POST", headers: { Accept: "application/json" } });
    assert.equal(r.status, 200);
  }

  const visitor = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await visitor.newPage();
  let ticket;

  // Everything this visitor's browser asks the room for, in order; and anything the CSP blocked.
  const requests = [];
  const blocked = [];
  visitor.on("request", (r) => { if (r.url().startsWith(origin)) requests.push({ at: Date.now(), method: r.method(), url: r.url() }); });
  page.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) blocked.push(m.text()); });

  await step("a new visitor costs one request (the page, with the place) before the first scheduled poll", async () => {
    const before = await stats();
    await page.goto(`${origin}/`);
    assert.equal(page.url(), `${origin}/`, "the page is answered at the link itself");
    await page.locator("#place").waitFor({ state: "visible", timeout: 10_000 });
    await waitFor("the place to be shown", async () => /\d/.test(await page.locator("#ahead").textContent()), 10_000);
    assert.ok(Number(await page.locator("#ahead").textContent()) >= 1, "twenty visitors arrived first");
    ticket = await ticketOf(visitor);
    assert.ok(/^\d+$/.test(ticket), `bk_ticket cookie: ${ticket}`);
    assert.equal(await page.locator("#name").textContent(), "Beekeeper dev room");
    assert.equal((await stats()).arrived, before.arrived + 1, "one place for one visitor");
    // The first poll comes on the page's own schedule (at least 4 s), not at once, and is the join that
    // confirms the place; polls follow.
    await waitFor("the first scheduled poll", async () => requests.length > 1, 15_000);
    const arrival = requests.slice(0, 1).map((r) => `${r.method} ${new URL(r.url).pathname}`);
    const first = requests[1];
    log(`# requests before the first poll: ${arrival.length} (${arrival.join(", ")}); first poll (${first.method} ${new URL(first.url).pathname}) ${first.at - requests[0].at} ms after arrival`);
    assert.deepEqual(arrival, ["GET /"]);
    assert.equal(`${first.method} ${new URL(first.url).pathname}`, "POST /join", "the first poll confirms the place");
    assert.ok(first.at - requests[0].at >= 3_500, "the first poll is scheduled, not immediate");
    await waitFor("a poll after the confirmation", async () => requests.some((r) => r.url.endsWith("/poll")), 15_000);
    assert.deepEqual(blocked, [], "the CSP blocked nothing the page uses");
    await page.screenshot({ path: path.join(shots, "1-waiting.png") });
  });

  await step("a tab that wakes up (visible again, back online) checks its place at once", async () => {
    const polls = () => requests.filter((r) => r.url.endsWith("/poll")).length;
    await sleep(5_200); // the page re-checks on waking only if it has not checked in the last 5 s
    let n = polls();
    await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
    await waitFor("a poll on visibilitychange", async () => polls() > n, 2_000, 50);
    await sleep(5_200);
    n = polls();
    await visitor.setOffline(true);
    await visitor.setOffline(false);
    await waitFor("a poll on coming back online", async () => polls() > n, 2_000, 50);
  });

  await step("reloading, or following the link again, keeps the visitor's place", async () => {
    const before = await stats();
    const shown = await page.evaluate(() => /bk_ticket=(\d+)/.exec(document.cookie)?.[1]);
    assert.equal(shown, ticket);
    await page.reload();
    await page.locator("#place").waitFor({ state: "visible", timeout: 10_000 });
    assert.equal(await page.evaluate(() => /bk_ticket=(\d+)/.exec(document.cookie)?.[1]), ticket);
    assert.equal(await page.evaluate(() => JSON.parse(document.getElementById("bk-state").textContent).state), "waiting");
    await page.goto(`${origin}/`);
    assert.equal(page.url(), `${origin}/`);
    assert.equal(await ticketOf(visitor), ticket);
    assert.equal((await stats()).arrived, before.arrived, "no second place in line");
  });

  await step("at 320 px wide the waiting page has no horizontal scroll (a second visitor, in line behind)", async () => {
    const ctx = await browser.newContext({ viewport: { width: 320, height: 640 } });
    const p = await ctx.newPage();
    await p.goto(`${origin}/`);
    await p.locator("#place").waitFor({ state: "visible", timeout: 10_000 });
    await waitFor("the place to be shown", async () => /\d/.test(await p.locator("#ahead").textContent()), 10_000);
    assert.ok(Number(await p.locator("#ahead").textContent()) >= 2, "behind the first visitor");
    const width = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 320, `scrollWidth ${width} > 320`);
    await p.screenshot({ path: path.join(shots, "2-narrow-320.png"), fullPage: true });
    await ctx.close();
  });

  await step("without JavaScript the page shows the place it gave and refreshes, keeping it", async () => {
    // Playwright's javaScriptEnabled:false stops scripts but leaves the parser's scripting flag on, so
    // <noscript> would stay hidden. Chrome's own "JavaScript blocked" setting is what a visitor has:
    // a throwaway profile whose preferences say so.
    const profile = mkdtempSync(path.join(os.tmpdir(), "bk-nojs-"));
    mkdirSync(path.join(profile, "Default"));
    writeFileSync(path.join(profile, "Default", "Preferences"),
      JSON.stringify({ profile: { default_content_setting_values: { javascript: 2 } } }));
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath, args: browserArgs, timeout: 30_000,
    });
    const p = ctx.pages()[0] || await ctx.newPage();
    const before = await stats();
    await p.goto(`${origin}/`);
    assert.equal(p.url(), `${origin}/`);
    assert.equal((await stats()).arrived, before.arrived + 1, "the page comes with the place");
    // <noscript> content is only rendered when scripts are off: this is what such a visitor sees.
    // Playwright's locators are scripts too, so read what was rendered over CDP: the accessibility tree
    // holds only what is displayed, and <noscript> content is displayed only with scripting off.
    const cdp = await ctx.newCDPSession(p);
    const shown = async () => (await cdp.send("Accessibility.getFullAXTree")).nodes.map((n) => n.name?.value || "").join("\n");
    await waitFor("the place to be shown", async () => /People ahead of you/.test(await shown()), 5_000);
    assert.match(await shown(), /JavaScript is off, so this page checks your place/, "noscript notice shown");
    const { root: doc } = await cdp.send("DOM.getDocument", { depth: -1, pierce: true });
    const metas = [];
    (function walk(n) {
      if (n.nodeName === "META") metas.push(n.attributes || []);
      (n.children || []).forEach(walk);
    })(doc);
    const refresh = metas.map((a) => Object.fromEntries(a.flatMap((v, i) => i % 2 ? [] : [[v, a[i + 1]]])))
      .find((m) => m["http-equiv"] === "refresh");
    assert.equal(refresh?.content, "30");
    // What the refresh loads: the page again, with the same place and no second one (and the reload
    // is what confirms the place for a visitor without JavaScript).
    await p.goto(`${origin}/`);
    assert.match(await shown(), /People ahead of you/);
    assert.equal((await stats()).arrived, before.arrived + 1, "no second place in line");
    await p.screenshot({ path: path.join(shots, "2b-no-javascript.png") });
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  });

  await step("a busy room (503) keeps the place; an ended session offers a one-click rejoin", async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    let answer = null;
    // The page's first scheduled poll is its confirming join, the later ones /poll: both get the answer.
    await ctx.route(/\/(poll|join)$/, (route) => answer ? route.fulfill(answer) : route.continue());
    await p.goto(`${origin}/`);
    await waitFor("the place to be shown", async () => /\d/.test(await p.locator("#ahead").textContent()), 10_000);
    const place = await p.locator("#ahead").textContent();
    answer = { status: 503, headers: { "Retry-After": "5", "Content-Type": "application/json" }, body: '{"error":"busy","retryAfter":5}' };
    await p.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
    await waitFor("the busy notice", async () => /busy/.test(await p.locator("#status").textContent()), 5_000);
    assert.equal(await p.locator("#ahead").textContent(), place, "the place stays on screen");
    assert.ok(await p.locator("#place").isVisible());
    answer = { status: 200, contentType: "application/json", body: '{"admitted":false,"open":true,"releasedTotal":0,"rate":12,"expired":true}' };
    await waitFor("the ended notice", async () => await p.locator("#rejoin").isVisible(), 15_000);
    assert.match(await p.locator("#rejoin-why").textContent(), /session has ended/);
    assert.ok(!(await p.locator("#place").isVisible()));
    answer = null;
    const before = await stats();
    const old = await ticketOf(ctx);
    await p.locator("#rejoin button").click();
    await waitFor("a new place", async () => (await stats()).arrived === before.arrived + 1, 10_000);
    await p.locator("#place").waitFor({ state: "visible", timeout: 10_000 });
    assert.notEqual(await ticketOf(ctx), old, "a new ticket");
    assert.equal(p.url(), `${origin}/`);
    await p.screenshot({ path: path.join(shots, "2c-rejoined.png") });
    await ctx.close();
  });

  await step("after the operator raises the rate, the visitor lands on the destination, which reports admitted", async () => {
    // Rate 1 held the line still for the steps above; now let everyone through at the next tick.
    await control({ rate: 600 });
    assert.equal((await stats()).rate, 600);
    await page.waitForURL((u) => u.href.startsWith(dest), { timeout: 45_000 });
    assert.match(page.url(), /\?bk_token=[A-Za-z0-9_-]{22}&bk_pass=[\w-]+\.[\w-]+\.[\w-]+$/);
    admittedPass = new URL(page.url()).searchParams.get("bk_pass");
    const verdict = page.locator("#verdict");
    assert.equal(await verdict.getAttribute("data-verdict"), "admitted");
    assert.match(await verdict.textContent(), /^Admitted — your pass is valid until \d\d:\d\d/);
    // Verified offline against the room's JWKS, not by asking the room.
    assert.match(await page.locator("body").textContent(), /verified the visitor's signed pass offline/);
    await page.screenshot({ path: path.join(shots, "3-admitted.png") });
  });

  await step("a visitor who skips the line is refused at the destination", async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    const res = await p.goto(dest);
    assert.equal(res.status(), 403);
    assert.equal(await p.locator("#verdict").getAttribute("data-verdict"), "refused");
    assert.equal(await p.locator("#verdict a").getAttribute("href"), `${origin}/`);
    const forged = await p.goto(`${dest}?bk_token=AAAAAAAAAAAAAAAAAAAAAA`);
    assert.equal(forged.status(), 403, "a made-up token is refused too");
    // Someone else's pass with its claims edited (a longer session): the signature gives it away.
    const [head, body, sig] = admittedPass.split(".");
    const claims = JSON.parse(Buffer.from(body, "base64url").toString());
    claims.exp += 86_400;
    const edited = Buffer.from(JSON.stringify(claims)).toString("base64url");
    const tampered = await p.goto(`${dest}?bk_pass=${head}.${edited}.${sig}`);
    assert.equal(tampered.status(), 403, "an edited pass is refused");
    assert.match(await p.locator("#verdict").textContent(), /forged/);
    await p.screenshot({ path: path.join(shots, "4-refused.png") });
    await ctx.close();
  });

  await step("with the room off, a new visitor goes straight through to the destination", async () => {
    await control({ open: false });
    // The producer trusts its copy of the room item for half a second.
    await waitFor("arrivals to be sent on", async () => {
      const r = await fetch(`${origin}/`, { redirect: "manual" });
      return r.headers.get("location") === dest;
    }, 5_000);
    const before = await stats();
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`${origin}/`);
    assert.equal(p.url(), dest);
    assert.equal(await p.locator("#verdict").getAttribute("data-verdict"), "admitted");
    assert.match(await p.locator("#verdict").textContent(), /waiting room is off/);
    assert.equal((await stats()).arrived, before.arrived, "nobody is queued while the room is off");
    assert.equal((await ctx.cookies(origin)).length, 0, "no cookies while the room is off");
    await p.screenshot({ path: path.join(shots, "5-room-off.png") });
    await ctx.close();
    await control({ open: true });
  });
}

await run(main, cleanup, DEADLINE_MS);
