// Why: walks a visitor in headless Chromium through a room `beekeeper deploy` built (the full-stack suite,
// crates/cli/tests/localstack.rs, runs it against LocalStack): the page answered at the link with the
// place (confirmed by the navigation itself) and nothing blocked by its CSP, the page waiting, and, once
// the suite has released the visitor, the page's own poll, then its join for the pass, taking it to the
// destination with bk_token and bk_pass. The destination is never contacted.
//
// Run by the suite: BEEKEEPER_ROOM_URL=<stage URL ending in /> BEEKEEPER_DESTINATION=<url> node deployed.mjs
// It prints "# release" when the visitor waits and reads one line from stdin once the suite has released
// them (it invokes the consumer function). Screenshots go to tests/browser/screenshots/deployed-*.png.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { launch, log, run, shots, step, waitFor } from "./harness.mjs";

const room = process.env.BEEKEEPER_ROOM_URL;
const destination = process.env.BEEKEEPER_DESTINATION;
const DEADLINE_MS = 120_000;
let browser = null;

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
}

const stdin = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => stdin.once("line", resolve));

async function main() {
  if (!room || !destination) throw new Error("set BEEKEEPER_ROOM_URL and BEEKEEPER_DESTINATION");
  mkdirSync(shots, { recursive: true });
  const origin = new URL(room).origin;
  // *.localhost is loopback (and a secure context) to Chromium; the rule makes sure of it.
  browser = await launch([`--host-resolver-rules=MAP *.localhost 127.0.0.1`]);
  const visitor = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await visitor.newPage();
  const requests = [];
  const blocked = [];
  visitor.on("request", (r) => { if (r.url().startsWith(origin)) requests.push({ method: r.method(), url: r.url() }); });
  page.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) blocked.push(m.text()); });
  const said = (r) => `${r.method} ${new URL(r.url).pathname}`;

  await step("the page is answered at the link with the visitor's place", async () => {
    await page.goto(room);
    assert.equal(page.url(), room, "no redirect: the page is the link's answer");
    await page.locator("#place").waitFor({ state: "visible", timeout: 10_000 });
    const cookies = await visitor.cookies(room);
    const token = cookies.find((c) => c.name === "bk_token");
    assert.ok(token && token.httpOnly && token.secure && token.sameSite === "Lax", JSON.stringify(cookies));
    assert.equal(token.path, new URL(room).pathname.replace(/\/$/, ""), "the cookie is the stage's");
    assert.ok(/^\d+$/.test(cookies.find((c) => c.name === "bk_ticket")?.value), JSON.stringify(cookies));
  });

  await step("the navigation confirms the place (no join), then the page polls; the CSP blocks nothing", async () => {
    await waitFor("a poll", async () => requests.some((r) => said(r).endsWith("/poll")), 20_000);
    log(`# the visitor's requests: ${requests.map(said).join(", ")}`);
    assert.equal(said(requests[0]), `GET ${new URL(room).pathname}`);
    // A browser's own navigation carries fetch metadata, so `GET /` confirmed the place itself.
    assert.ok(!requests.some((r) => said(r).endsWith("/join")), requests.map(said).join(", "));
    assert.deepEqual(blocked, [], "the CSP blocked nothing the page uses");
    const boot = await page.evaluate(() => JSON.parse(document.getElementById("bk-state").textContent));
    assert.equal(boot.place, "waiting", JSON.stringify(boot));
    assert.ok(!boot.pending, JSON.stringify(boot));
    await page.screenshot({ path: path.join(shots, "deployed-1-waiting.png") });
  });

  await step("once released, the page's poll and its join for the pass take the visitor to the destination", async () => {
    log("# release");
    const answer = await nextLine();
    assert.equal(answer.trim(), "released", `the suite answered ${answer}`);
    // The way to the destination is watched as a request, so the made-up destination is never loaded.
    const handover = await page.waitForRequest((r) => r.url().startsWith(destination), { timeout: 60_000 });
    assert.ok(handover.isNavigationRequest(), "the page itself goes");
    // The poll said admitted without the pass; the join handed it over.
    const joins = requests.filter((r) => said(r).endsWith("/join"));
    assert.equal(joins.length, 1, requests.map(said).join(", "));
    const at = new URL(handover.url());
    assert.match(at.searchParams.get("bk_token") || "", /^[A-Za-z0-9_-]{22}$/);
    assert.equal((at.searchParams.get("bk_pass") || "").split(".").length, 3, "a compact JWS");
  });
}

await run(main, async () => { stdin.close(); await cleanup(); }, DEADLINE_MS);
