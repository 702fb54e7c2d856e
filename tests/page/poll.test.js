// Why: the waiting page's timing rules decide the poll load of a whole crowd; these pin them down.
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const P = require(path.join(__dirname, "../../crates/room/assets/waiting-room/poll.js"));
const { tables } = require(path.join(__dirname, "../../crates/room/assets/waiting-room/strings.js"));

const fixed = (r) => () => r;
const within = (x, lo, hi) => assert.ok(x >= lo && x <= hi, `${x} not in [${lo}, ${hi}]`);

test("near the front polls about every 5 s, never under 4 s", () => {
  for (const r of [0, 0.25, 0.5, 0.75, 0.999]) {
    const d = P.nextPollDelayMs(10, 300, fixed(r));
    within(d, 4000, 6000);
    assert.ok(d >= 5000 * 0.8);
  }
  assert.equal(P.nextPollDelayMs(10, 300, fixed(0.5)), 5000);
});

test("far back is capped at 20 minutes ± 20%", () => {
  assert.equal(P.nextPollDelayMs(1000000, 300, fixed(0.5)), 1200000);
  // 300,000 ahead at 3,000/min: 100 minutes, a tenth is 10 minutes, under the ceiling.
  assert.equal(P.nextPollDelayMs(300000, 3000, fixed(0.5)), 600000);
  within(P.nextPollDelayMs(1000000, 300, fixed(0)), 960000, 960000);
  within(P.nextPollDelayMs(1000000, 300, fixed(0.999)), 1439000, 1440000);
});

test("a short session brings the longest gap within 80% of it, so the page sees its turn in time", () => {
  // A 1-minute session far back: 40 s at the centre, at most 48 s, where a 30-minute one waits 20 min.
  assert.equal(P.nextPollDelayMs(1000000, 300, fixed(0.5), 1), 40000);
  within(P.nextPollDelayMs(1000000, 300, fixed(0.999), 1), 47900, 48000);
  assert.equal(P.nextPollDelayMs(1000000, 300, fixed(0.5), 30), 1200000);
  // A paused line (unknown wait) is held to it too; no session (an older room) keeps the old law.
  assert.equal(P.nextPollDelayMs(3000, 0, fixed(0.5), 1), 40000);
  assert.equal(P.nextPollDelayMs(1000000, 300, fixed(0.5), undefined), 1200000);
  for (let m = 1; m <= 1440; m++) assert.ok(P.nextPollDelayMs(1e9, 1, fixed(0.999), m) <= m * 48000, `${m} min`);
});

test("between the bounds the delay is a tenth of the wait", () => {
  // 3000 ahead at 300/min = 10 min wait -> 60 s
  assert.equal(P.nextPollDelayMs(3000, 300, fixed(0.5)), 60000);
});

test("jitter really varies with random", () => {
  const lo = P.nextPollDelayMs(3000, 300, fixed(0));
  const hi = P.nextPollDelayMs(3000, 300, fixed(0.999));
  assert.notEqual(lo, hi);
  within(lo, 48000, 72000);
  within(hi, 48000, 72000);
  assert.equal(lo, 48000);
  const seen = new Set();
  for (let i = 0; i < 50; i++) seen.add(P.nextPollDelayMs(3000, 300, Math.random));
  assert.ok(seen.size > 10);
});

test("rate 0, negative and NaN inputs give a bounded delay", () => {
  const bad = [0, -5, NaN, Infinity, -Infinity, undefined, null, "12"];
  for (const a of [10, 0, -3, NaN, Infinity, undefined]) {
    for (const q of bad) {
      for (const rnd of [fixed(0), fixed(0.999), fixed(NaN), fixed(7), undefined]) {
        const d = P.nextPollDelayMs(a, q, rnd);
        assert.ok(Number.isFinite(d), `delay ${d} for ${a}, ${q}`);
        within(d, 4000, 360000);
      }
    }
  }
  // Paused line (rate 0) with people ahead: once a minute, jittered.
  assert.equal(P.nextPollDelayMs(50, 0, fixed(0.5)), 60000);
});

test("backoff grows and caps", () => {
  const mid = fixed(0.5);
  assert.deepEqual([1, 2, 3, 4].map((f) => P.backoffDelayMs(f, mid)), [5000, 10000, 20000, 40000]);
  assert.equal(P.backoffDelayMs(7, mid), 300000);
  assert.equal(P.backoffDelayMs(1000, mid), 300000);
  within(P.backoffDelayMs(1000, fixed(0.999)), 359000, 360000);
  assert.equal(P.backoffDelayMs(1, fixed(0)), 4000);
  for (const f of [0, -1, NaN, Infinity, undefined]) {
    const d = P.backoffDelayMs(f, mid);
    assert.ok(Number.isFinite(d));
    within(d, 4000, 360000);
  }
});

test("peopleAhead follows the contract and is never negative", () => {
  assert.equal(P.peopleAhead(100, 40), 59);
  assert.equal(P.peopleAhead(41, 40), 0);
  assert.equal(P.peopleAhead(5, 40), 0);
  assert.equal(P.peopleAhead(NaN, 3), 0);
  assert.equal(P.peopleAhead(10, NaN), 9);
  assert.equal(P.peopleAhead(10, -4), 9);
});

test("estimatedWaitMinutes", () => {
  assert.equal(P.estimatedWaitMinutes(600, 300), 2);
  assert.equal(P.estimatedWaitMinutes(0, 300), 0);
  assert.equal(P.estimatedWaitMinutes(-2, 300), 0);
  assert.equal(P.estimatedWaitMinutes(10, 0), null);
  assert.equal(P.estimatedWaitMinutes(10, NaN), null);
});

test("aheadNow counts down and floors at 0", () => {
  assert.equal(P.aheadNow(1000, 300, 0), 1000);
  assert.equal(P.aheadNow(1000, 300, 60000), 700);
  assert.equal(P.aheadNow(1000, 300, 30000), 850);
  assert.equal(P.aheadNow(10, 300, 1000), 5);
  assert.equal(P.aheadNow(10, 300, 10 * 60000), 0);
  assert.equal(P.aheadNow(10, 0, 60000), 10);
  assert.equal(P.aheadNow(10, 300, -5000), 10);
  assert.equal(P.aheadNow(NaN, 300, 1000), 0);
});

test("formatWait in English", () => {
  const en = tables.en;
  assert.equal(P.formatWait(0.2, en), "less than a minute");
  assert.equal(P.formatWait(0, en), "less than a minute");
  assert.equal(P.formatWait(1, en), "about 1 minute");
  assert.equal(P.formatWait(7.2, en), "about 7 minutes");
  assert.equal(P.formatWait(60, en), "about 1 hour");
  assert.equal(P.formatWait(125, en), "about 2 hours 5 minutes");
  assert.equal(P.formatWait(61, en), "about 1 hour 1 minute");
  assert.equal(P.formatWait(60 * 1500, en), "about 1,500 hours");
  assert.equal(P.formatWait(null, en), en.waitUnknown);
  assert.equal(P.formatWait(NaN, en), en.waitUnknown);
});

test("formatWait in German", () => {
  const de = tables.de;
  assert.equal(P.formatWait(0.5, de), "weniger als eine Minute");
  assert.equal(P.formatWait(7, de), "etwa 7 Minuten");
  assert.equal(P.formatWait(1, de), "etwa 1 Minute");
  assert.equal(P.formatWait(125, de), "etwa 2 Stunden 5 Minuten");
  assert.equal(P.formatWait(60 * 1500, de), "etwa 1.500 Stunden");
});

test("formatWait in French", () => {
  assert.equal(P.formatWait(125, tables.fr), "environ 2 heures 5 minutes");
});

test("after a 503 the page never comes back before Retry-After, and backs off further on repeats", () => {
  const mid = fixed(0.5);
  assert.equal(P.retryDelayMs("30", 1, mid), 30000);
  assert.equal(P.retryDelayMs(5, 1, mid), 5000);
  // Retry-After below the back-off: the back-off wins (a crowd told "1" must not return in one wave).
  assert.equal(P.retryDelayMs("1", 3, mid), 20000);
  for (const r of [0, 0.5, 0.999]) assert.ok(P.retryDelayMs("10", 1, fixed(r)) >= 10000);
  // Missing, garbage or absurd values: bounded by the usual back-off and the 5-minute cap.
  for (const bad of [undefined, null, "", "soon", "-3", NaN, "Wed, 21 Oct 2015 07:28:00 GMT"]) {
    assert.equal(P.retryDelayMs(bad, 1, mid), 5000, String(bad));
  }
  assert.equal(P.retryDelayMs("86400", 1, mid), 300000);
});

test("a tab that wakes up checks at once unless it checked in the last 5 s", () => {
  assert.equal(P.wakeDelayMs(0, 600000), 0);
  assert.equal(P.wakeDelayMs(100000, 105000), 0);
  assert.equal(P.wakeDelayMs(100000, 102000), 3000);
  assert.equal(P.wakeDelayMs(100000, 100000), 5000);
  // A clock that went backwards, or no poll yet: check now.
  assert.equal(P.wakeDelayMs(100000, 90000), 0);
  assert.equal(P.wakeDelayMs(undefined, 1000), 0);
});

test("the page asks the room only where counting cannot tell, and not again for two minutes", () => {
  const min = 60000, now = 100 * min;
  // The session ended while the page slept: ask at once.
  assert.equal(P.askDue(true, 0, 0, now), true);
  // At the front and not let in: ask after a minute there.
  assert.equal(P.askDue(false, now - min, 0, now), true);
  assert.equal(P.askDue(false, now - min + 1, 0, now), false);
  // Never at the front (frontSince 0): counting still tells, so never ask.
  assert.equal(P.askDue(false, 0, 0, now), false);
  // Asked a minute ago: the room's answer still holds, whatever the reason to ask.
  assert.equal(P.askDue(true, now - 10 * min, now - min, now), false);
  assert.equal(P.askDue(true, now - 10 * min, now - 2 * min, now), true);
  for (const bad of [NaN, undefined, null, "x"]) assert.equal(P.askDue(true, 0, 0, bad), false);
});
