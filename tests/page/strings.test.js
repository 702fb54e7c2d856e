// Why: a key missing from one language would show "undefined" to that language's visitors.
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const S = require(path.join(__dirname, "../../crates/room/assets/waiting-room/strings.js"));

function keys(o, prefix = "") {
  return Object.keys(o).sort().flatMap((k) =>
    typeof o[k] === "object" ? keys(o[k], prefix + k + ".") : [prefix + k]);
}

test("every language has the same keys, all non-empty strings", () => {
  const langs = Object.keys(S.tables);
  assert.ok(langs.includes("en") && langs.includes("de"));
  const want = keys(S.tables.en);
  for (const l of langs) {
    assert.deepEqual(keys(S.tables[l]), want, l);
    for (const k of want) {
      const v = k.split(".").reduce((o, p) => o[p], S.tables[l]);
      assert.equal(typeof v, "string", `${l}.${k}`);
      assert.ok(v.trim().length > 0, `${l}.${k}`);
    }
    assert.equal(S.tables[l].locale, l);
  }
});

test("the page's data-s keys all exist in the table", () => {
  const html = require("node:fs").readFileSync(path.join(__dirname, "../../crates/room/assets/waiting-room/index.html"), "utf8");
  const used = [...html.matchAll(/data-s="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(used.length > 5);
  for (const k of used) assert.equal(typeof S.tables.en[k], "string", k);
});

test("language choice: first supported wins, region falls back to base, default English", () => {
  assert.equal(S.pick(["de-AT", "en"]).locale, "de");
  assert.equal(S.pick(["es", "fr-CA", "de"]).locale, "fr");
  assert.equal(S.pick(["ja"]).locale, "en");
  assert.equal(S.pick([]).locale, "en");
  assert.equal(S.pick(undefined).locale, "en");
  assert.equal(S.pick(["EN-gb"]).locale, "en");
});
