// Why: the page must load nothing from another origin and stay small enough for a burst of phones.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const dir = path.join(__dirname, "../../assets/waiting-room");
const files = fs.readdirSync(dir);

test("the files index.html lists are the files there are", () => {
  const html = fs.readFileSync(path.join(dir, "index.html"), "utf8");
  for (const f of files) assert.ok(html.includes(f), `${f} not listed in index.html`);
});

test("nothing is loaded from another origin", () => {
  for (const f of files) {
    const s = fs.readFileSync(path.join(dir, f), "utf8");
    assert.doesNotMatch(s, /(src|href)\s*=\s*["']?(https?:)?\/\//i, f);
    assert.doesNotMatch(s, /@import|url\(\s*["']?(https?:)?\/\//i, f);
    assert.doesNotMatch(s, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, f);
  }
});

test("all files together stay under 20 KB", () => {
  const total = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  assert.ok(total < 20 * 1024, `${total} bytes`);
});
