// Why: the waiting page's timing and counting rules live here, free of the DOM, so node can test them.
(function (root) {
  "use strict";
  // FAR_MS caps the polling law; MAX_MS caps back-off after failures.
  var MIN_MS = 5000, MAX_MS = 300000, FAR_MS = 1200000, UNKNOWN_MS = 60000;
  // After ASK_AFTER_MS at the front, the page asks the room; again no sooner than ASK_EVERY_MS.
  var ASK_AFTER_MS = 60000, ASK_EVERY_MS = 120000;

  // A finite number, or NaN (read as unknown) for anything else.
  function num(x) { return Number.isFinite(x) ? x : NaN; }

  // Uniform ±20%, so visitors who arrived together stop polling in step.
  function jitter(centreMs, random) {
    var r = typeof random === "function" ? num(random()) : 0.5;
    if (!(r >= 0 && r < 1)) r = 0.5;
    return Math.round(centreMs * (0.8 + 0.4 * r));
  }

  function clamp(x, lo, hi) { return Math.min(hi, Math.max(lo, x)); }

  // max(0, ticket - releasedTotal - 1), as pinned in the data contract.
  function peopleAhead(ticket, releasedTotal) {
    var t = num(ticket), r = num(releasedTotal);
    if (isNaN(t)) return 0;
    if (isNaN(r) || r < 0) r = 0;
    return Math.max(0, Math.floor(t - r - 1));
  }

  // Minutes, or null when it cannot be known (rate 0: the line is paused).
  function estimatedWaitMinutes(ahead, rate) {
    var a = num(ahead), q = num(rate);
    if (!(a > 0)) return isNaN(a) ? null : 0;
    if (!(q > 0)) return null;
    return a / q;
  }

  // A tenth of the wait, within [5 s, 20 min]: poll load grows with the log of the crowd. The 20-minute
  // ceiling is what the far back costs (2,000,000 waiting poll ~1,500 times a second; ~6,700 at 5 min);
  // a shorter session lowers it to 2/3 of it (80% with jitter). An unknown wait polls each minute.
  function nextPollDelayMs(aheadCount, ratePerMinute, random, sessionMinutes) {
    var w = estimatedWaitMinutes(aheadCount, ratePerMinute), s = num(sessionMinutes);
    var far = s > 0 ? clamp(s * 40000, MIN_MS, FAR_MS) : FAR_MS;
    return jitter(w === null ? Math.min(UNKNOWN_MS, far) : clamp(w * 6000, MIN_MS, far), random);
  }

  // 5 s, 10 s, 20 s ... 5 min after consecutive failures; jittered so an outage does not end in a stampede.
  function backoffDelayMs(failures, random) {
    var f = num(failures);
    f = f >= 1 ? Math.min(Math.floor(f), 20) : 1;
    return jitter(Math.min(MAX_MS, MIN_MS * Math.pow(2, f - 1)), random);
  }

  // After a 503 the room said when to come back (Retry-After, seconds): never sooner, and never sooner
  // than the usual back-off either, so a crowd told "5" does not return in one wave.
  function retryDelayMs(retryAfterSecs, failures, random) {
    var s = Number(retryAfterSecs), floor = s > 0 && isFinite(s) ? Math.min(s * 1000, MAX_MS) : 0;
    return Math.max(floor, backoffDelayMs(failures, random));
  }

  // A tab coming back (visible again, back online) checks at once, unless it checked under 5 s ago.
  function wakeDelayMs(lastPollAtMs, nowMs) {
    var last = num(lastPollAtMs), now = num(nowMs);
    if (isNaN(last) || isNaN(now) || now < last) return 0;
    return Math.max(0, MIN_MS - (now - last));
  }

  // Whether to ask the room (POST join) where the place stands: counting cannot tell once the turn came
  // and went while the page slept (`expired`), or when it stays at the front and is never let in.
  function askDue(expired, frontSinceMs, askedAtMs, nowMs) {
    var since = num(frontSinceMs), asked = num(askedAtMs), now = num(nowMs);
    if (isNaN(now)) return false;
    if (asked > 0 && now - asked < ASK_EVERY_MS) return false;
    if (expired === true) return true;
    return since > 0 && now - since >= ASK_AFTER_MS;
  }

  // Counts down between polls; rounded up so the page never promises more than the rate gives.
  function aheadNow(aheadAtPoll, rate, msElapsed) {
    var a = num(aheadAtPoll), q = num(rate), ms = num(msElapsed);
    if (!(a > 0)) return 0;
    if (!(q > 0) || !(ms > 0)) return Math.ceil(a);
    return Math.max(0, Math.ceil(a - q * ms / 60000));
  }

  function fill(t, key, value) { return String(t).split("{" + key + "}").join(value); }

  function formatWait(minutes, strings) {
    var m = num(minutes);
    if (minutes === null || isNaN(m) || m < 0) return strings.waitUnknown;
    if (m < 1) return strings.lessThanMinute;
    var nf;
    try { nf = new Intl.NumberFormat(strings.locale); } catch (e) { nf = { format: String }; }
    function unit(n, forms) { return fill(n === 1 ? forms.one : forms.other, "n", nf.format(n)); }
    var total = Math.round(m), h = Math.floor(total / 60), mm = total % 60, parts = [];
    if (h > 0) parts.push(unit(h, strings.hour));
    if (mm > 0 || h === 0) parts.push(unit(mm, strings.minute));
    return fill(strings.about, "x", parts.join(" "));
  }

  var api = {
    nextPollDelayMs: nextPollDelayMs, backoffDelayMs: backoffDelayMs, retryDelayMs: retryDelayMs,
    wakeDelayMs: wakeDelayMs, askDue: askDue, peopleAhead: peopleAhead,
    estimatedWaitMinutes: estimatedWaitMinutes, aheadNow: aheadNow, formatWait: formatWait, fill: fill
  };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (root) root.BeekeeperPoll = api;
})(typeof window !== "undefined" ? window : null);
