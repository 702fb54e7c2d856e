// Why: the page must load nothing from another origin and stay small enough for a burst of phones; the
// producer inlines every file the template names, so the template must name exactly the files there are.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const zlib = require("node:zlib");
const dir = path.join(__dirname, "../../crates/room/assets/waiting-room");
const files = fs.readdirSync(dir);
const html = fs.readFileSync(path.join(dir, "index.html"), "utf8");

test("the template inlines exactly the files there are", () => {
  const named = [...html.matchAll(/<(?:script src|link rel="stylesheet" href)="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual([...named, "index.html"].sort(), [...files].sort());
  // One slot per embedded value, and the state sits in a script the browser does not run.
  assert.match(html, /<script type="application\/json" id="bk-state">\{\{STATE\}\}<\/script>/);
  for (const f of files.filter((f) => f !== "index.html")) {
    const s = fs.readFileSync(path.join(dir, f), "utf8");
    assert.ok(!s.includes("{{") && !/<\/(script|style)/i.test(s), `${f} would break when inlined`);
  }
});

test("nothing is loaded from another origin", () => {
  for (const f of files) {
    const s = fs.readFileSync(path.join(dir, f), "utf8");
    assert.doesNotMatch(s, /(src|href|action)\s*=\s*["']?(https?:)?\/\//i, f);
    assert.doesNotMatch(s, /@import|url\(\s*["']?(https?:)?\/\//i, f);
    assert.doesNotMatch(s, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, f);
  }
});

test("the page, everything inline, stays under 26 KB raw and 10 KB gzipped", () => {
  const all = files.map((f) => fs.readFileSync(path.join(dir, f))).reduce((a, b) => Buffer.concat([a, b]));
  assert.ok(all.length < 26 * 1024, `${all.length} bytes`);
  const gz = zlib.gzipSync(all, { level: 9 }).length;
  assert.ok(gz < 10 * 1024, `${gz} bytes gzipped`);
});
