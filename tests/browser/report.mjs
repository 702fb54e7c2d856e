// Why: `beekeeper report`'s page must open as a file anywhere (mailed, offline, printed): headless
// Chromium opens the page the moto suite wrote (BEEKEEPER_REPORT_PAGE, from a report over metric data
// put in) and checks it fetches nothing but itself, shows its seven charts, and fits an 80-column-wide
// 640 px window and a 360 px phone without sideways scrolling. Screenshots go to
// tests/browser/screenshots/report*.png (README shows one).
//
// Run: BEEKEEPER_REPORT_PAGE=target/report/sale.html cargo test -p beekeeper --all-features --test it the_report
//      && BEEKEEPER_REPORT_PAGE=target/report/sale.html node tests/browser/report.mjs

import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import assert from "node:assert/strict";
import { launch, root, run, shots, step } from "./harness.mjs";

const page_file = path.resolve(root, process.env.BEEKEEPER_REPORT_PAGE || "target/report/sale.html");
let browser = null;

async function main() {
  assert.ok(existsSync(page_file), `${page_file} is missing: the moto suite's report test writes it`);
  mkdirSync(shots, { recursive: true });
  browser = await launch();
  for (const [name, width] of [["report", 1000], ["report-640", 640], ["report-phone", 360]]) {
    await step(`the report at ${width} px fetches nothing and fits`, async () => {
      const context = await browser.newContext({ viewport: { width, height: 900 } });
      const page = await context.newPage();
      const fetched = [];
      page.on("request", (r) => fetched.push(r.url()));
      await page.goto(pathToFileURL(page_file).href);
      assert.deepEqual(fetched, [pathToFileURL(page_file).href], "only the file itself");
      assert.equal(await page.locator("svg").count(), 7);
      const box = await page.locator("svg").first().boundingBox();
      assert.ok(box && box.height > 50, `the first chart is drawn (${JSON.stringify(box)})`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling (${overflow} px too wide)`);
      await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
      await context.close();
    });
  }
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
}

run(main, cleanup, 60_000);
