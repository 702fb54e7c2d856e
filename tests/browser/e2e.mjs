// Why: walks real visitors through a `beekeeper dev` room in headless Chromium (the system's, driven by
// playwright-core): arrival in one request (the page, which comes with the place, confirmed by the
// browser's navigation) with nothing blocked by the page's CSP, a browser without fetch metadata whose
// page confirms as it starts, a place in line kept across reloads, a tab that wakes up re-checking,
// "busy", "session ended" and "no record" answers, admission into the demo destination which verifies
// the pass, the phones that keep their place (a page suspended as it loaded, a tab closed and the link
// opened again, a page asleep past its whole session), refusal of a line-skipper, the room switched
// off, and a 320 px wide phone. Screenshots go to tests/browser/screenshots/.
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
const DEADLINE_MS = 240_000; // the whole run, start to finish (one visitor sleeps past a 1-minute session)
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

  // Twenty visitors ahead of ours, so the page has a line to show. A cookie-less join only takes a place
  // that waits for its confirmation (a script's one POST never holds a confirmed place), so each confirms
  // with its cookie, as a page's script does.
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${origin}/join`, { method: "POST", headers: { Accept: "application/json" } });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).pending, true, "not confirmed without a cookie");
    const cookie = r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const confirmed = await fetch(`${origin}/join`, { method: "POST", headers: { Accept: "application/json", Cookie: cookie } });
    assert.equal(confirmed.status, 200);
    assert.equal((await confirmed.json()).pending, undefined);
  }

  const visitor = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await visitor.newPage();
  let ticket;

  // Everything this visitor's browser asks the room for, in order; and anything the CSP blocked.
  const requests = [];
  const blocked = [];
  visitor.on("request", (r) => { if (r.url().startsWith(origin)) requests.push({ at: Date.now(), method: r.method(), url: r.url() }); });
  page.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) blocked.push(m.text()); });

  await step("a new visitor costs one request (the page, with the place its navigation confirms) before the first scheduled poll", async () => {
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
    // The first poll comes on the page's own schedule (at least 4 s), not at once: the navigation itself
    // confirmed the place, so nothing else is sent first.
    await waitFor("the first scheduled poll", async () => requests.length > 1, 15_000);
    const arrival = requests.slice(0, 1).map((r) => `${r.method} ${new URL(r.url).pathname}`);
    const first = requests[1];
    log(`# requests before the first poll: ${arrival.length} (${arrival.join(", ")}); first poll (${first.method} ${new URL(first.url).pathname}) ${first.at - requests[0].at} ms after arrival`);
    assert.deepEqual(arrival, ["GET /"]);
    assert.equal(`${first.method} ${new URL(first.url).pathname}`, "GET /poll", "no confirmation needed");
    assert.ok(first.at - requests[0].at >= 3_500, "the first poll is scheduled, not immediate");
    assert.deepEqual(blocked, [], "the CSP blocked nothing the page uses");
    await page.screenshot({ path: path.join(shots, "1-waiting.png") });
  });

  await step("a browser without fetch metadata: its page confirms the place as its script starts", async () => {
    // route.fetch sends the page's request from outside the browser, so it carries no Sec-Fetch-*
    // headers, as an older browser's; the answer (its cookies included) goes to the page as usual.
    const ctx = await browser.newContext();
    await ctx.route(`${origin}/`, async (route) => route.fulfill({ response: await route.fetch() }));
    const sent = [];
    ctx.on("request", (r) => { if (r.url().startsWith(origin)) sent.push({ at: Date.now(), what: `${r.method()} ${new URL(r.url()).pathname}` }); });
    const p = await ctx.newPage();
    const joined = p.waitForResponse((r) => r.url().endsWith("/join"), { timeout: 10_000 });
    await p.goto(`${origin}/`);
    assert.equal(await p.evaluate(() => JSON.parse(document.getElementById("bk-state").textContent).pending), true);
    const answer = await (await joined).json();
    assert.equal(answer.place, "waiting", JSON.stringify(answer));
    const [page, join] = sent;
    assert.deepEqual([page.what, join.what], ["GET /", "POST /join"]);
    assert.ok(join.at - page.at < 3_000, `confirmed ${join.at - page.at} ms after the page`);
    await ctx.close();
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
    assert.equal(await page.evaluate(() => JSON.parse(document.getElementById("bk-state").textContent).place), "waiting");
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

  await step("a busy room (503) keeps the place; told the session ended, the page offers a rejoin that never gives up a place still held", async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    let answer = null, join = null;
    // /poll answers `answer`; the page then asks the room (a join), which answers `join`.
    await ctx.route(/\/poll$/, (route) => answer ? route.fulfill(answer) : route.continue());
    await ctx.route(/\/join$/, (route) => join ? route.fulfill(join) : route.continue());
    await p.goto(`${origin}/`);
    await waitFor("the place to be shown", async () => /\d/.test(await p.locator("#ahead").textContent()), 10_000);
    const place = await p.locator("#ahead").textContent();
    answer = { status: 503, headers: { "Retry-After": "5", "Content-Type": "application/json" }, body: '{"error":"busy","retryAfter":5}' };
    await p.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
    await waitFor("the busy notice", async () => /busy/.test(await p.locator("#status").textContent()), 5_000);
    assert.equal(await p.locator("#ahead").textContent(), place, "the place stays on screen");
    assert.ok(await p.locator("#place").isVisible());
    // /poll says the pass ran out; the page does not guess, it asks the room, which says it was used.
    const ended = '{"admitted":false,"open":true,"releasedTotal":0,"rate":12,"expired":true';
    answer = { status: 200, contentType: "application/json", body: ended + "}" };
    join = { status: 200, contentType: "application/json", body: ended + ',"place":"expired"}' };
    await waitFor("the ended notice", async () => await p.locator("#rejoin").isVisible(), 15_000);
    assert.match(await p.locator("#rejoin-why").textContent(), /session has ended/);
    assert.ok(!(await p.locator("#place").isVisible()));
    // The real room still holds this visitor's place: "join again" keeps it rather than start them over.
    answer = join = null;
    const before = await stats();
    const old = await ticketOf(ctx);
    await p.locator("#rejoin button").click();
    await p.locator("#place").waitFor({ state: "visible", timeout: 10_000 });
    assert.equal(await ticketOf(ctx), old, "the same place");
    assert.equal((await stats()).arrived, before.arrived, "no second place");
    assert.equal(p.url(), `${origin}/`);
    await ctx.close();
  });

  await step("a place the room has no record of is said so, and one click takes a new one", async () => {
    const ctx = await browser.newContext();
    // A cookie this room never gave (another sale's, say).
    await ctx.addCookies([{ name: "bk_token", value: "AAAAAAAAAAAAAAAAAAAAAA", url: origin, httpOnly: true }]);
    const p = await ctx.newPage();
    const before = await stats();
    await p.goto(`${origin}/`);
    await p.locator("#rejoin").waitFor({ state: "visible", timeout: 10_000 });
    assert.match(await p.locator("#rejoin-why").textContent(), /no record of your place/);
    assert.equal((await stats()).arrived, before.arrived, "showing it takes no place");
    await p.locator("#rejoin button").click();
    await waitFor("a new place", async () => (await stats()).arrived === before.arrived + 1, 10_000);
    await p.locator("#place").waitFor({ state: "visible", timeout: 10_000 });
    assert.notEqual(await ticketOf(ctx), "AAAAAAAAAAAAAAAAAAAAAA");
    await p.screenshot({ path: path.join(shots, "2c-rejoined.png") });
    await ctx.close();
  });

  // Phones that leave: each takes its place now, while the line stands still, and comes back after the
  // line has moved past it.
  let sleeper, longSleeper;
  await step("a page told it is hidden and then stopped as it loaded (a locked phone) really sleeps", async () => {
    sleeper = await asleepAfterLoading(browser, origin, "a page suspended as it loaded");
  });
  const closed = await browser.newContext();
  await step("a tab closed a second after loading keeps its place", async () => {
    const p = await closed.newPage();
    await p.goto(`${origin}/`);
    await sleep(1_000);
    await p.close();
    assert.ok(/^\d+$/.test(await ticketOf(closed)));
  });
  // This one sleeps past its whole session: passes last one minute from the next release on.
  await control({ session_minutes: 1 });
  await step("a second page sleeps the same way, to sleep past its whole session", async () => {
    longSleeper = await asleepAfterLoading(browser, origin, "a page asleep past its session");
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

  await step("the page suspended as it loaded wakes after its turn passed and goes in", async () => {
    await sleeper.wake();
    await sleeper.page.waitForURL((u) => u.href.startsWith(dest), { timeout: 30_000 });
    assert.equal(await sleeper.page.locator("#verdict").getAttribute("data-verdict"), "admitted");
  });

  await step("the closed tab's link opened again after its turn goes straight in", async () => {
    await waitFor("the line to reach the closed tab's place", () => turnCame(closed, origin), 60_000);
    const p = await closed.newPage();
    await p.goto(`${origin}/`);
    assert.ok(p.url().startsWith(dest), p.url());
    assert.equal(await p.locator("#verdict").getAttribute("data-verdict"), "admitted");
    await closed.close();
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

  await step("a page asleep past its whole session is sent back to the front when it wakes, and goes in", async () => {
    // Its session (one minute) began when the line reached it; it ends while the page still sleeps.
    const released = longSleeper.releasedAt();
    const left = released + 62_000 - Date.now();
    log(`# the long sleeper's session ends ${Math.max(0, left)} ms from now`);
    if (left > 0) await sleep(left);
    const before = await stats();
    await longSleeper.wake();
    await waitFor("the welcome-back notice", async () => /Welcome back/.test(await longSleeper.page.locator("#status").textContent()), 15_000);
    await longSleeper.page.screenshot({ path: path.join(shots, "3b-welcome-back.png") });
    await longSleeper.page.waitForURL((u) => u.href.startsWith(dest), { timeout: 30_000 });
    assert.equal(await longSleeper.page.locator("#verdict").getAttribute("data-verdict"), "admitted");
    assert.equal((await stats()).readmitted, before.readmitted + 1, "let in again, once");
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

/// Whether the release has reached the place a browser context holds, asked as its page would (`/poll`
/// with its cookie), without the page. `released` in the stats cannot tell: passed-over places take
/// tickets too.
async function turnCame(ctx, origin) {
  const token = (await ctx.cookies(origin)).find((c) => c.name === "bk_token")?.value;
  const r = await fetch(`${origin}/poll`, { headers: { cookie: `bk_token=${token}` } }).catch(() => null);
  return !!r && r.ok && (await r.json().catch(() => ({}))).admitted === true;
}

/// A visitor whose page is told it is hidden and whose script thread is then stopped, as a phone does to
/// a page when the screen locks; `wake()` undoes both. The page really stops: its timers stop firing.
async function asleepAfterLoading(browser, origin, what) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${origin}/`);
  await page.locator("#place").waitFor({ state: "visible", timeout: 10_000 });
  const ticket = Number((await ctx.cookies(origin)).find((c) => c.name === "bk_ticket").value);
  let beats = 0;
  page.on("console", (m) => { if (m.text() === "bk-test-beat") beats++; });
  await page.evaluate(() => {
    setInterval(() => console.log("bk-test-beat"), 100);
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await sleep(300);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Debugger.enable");
  const paused = new Promise((r) => cdp.once("Debugger.paused", r));
  await cdp.send("Debugger.pause");
  await paused;
  const during = beats;
  await sleep(1_000);
  assert.equal(beats, during, `${what}: its timers still run`);
  log(`# ${what}: ticket ${ticket}, script stopped`);
  // When the line reaches its place: watched from outside with its cookie, as the page cannot.
  let releasedAt = 0;
  const watch = setInterval(async () => {
    if (!releasedAt && (await turnCame(ctx, origin))) releasedAt = Date.now();
  }, 250);
  return {
    page,
    releasedAt: () => releasedAt,
    async wake() {
      await waitFor(`${what}: the line to pass its place`, async () => releasedAt > 0, 60_000);
      clearInterval(watch);
      await cdp.send("Debugger.resume");
      await page.evaluate(() => {
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
        document.dispatchEvent(new Event("visibilitychange"));
      });
    },
  };
}

await run(main, cleanup, DEADLINE_MS);
