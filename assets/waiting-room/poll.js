// Why: the waiting page's timing and counting rules live here, free of the DOM, so node can test them.
(function (root) {
  "use strict";
  // FAR_MS caps the polling law; MAX_MS caps back-off after failures.
  var MIN_MS = 5000, MAX_MS = 300000, FAR_MS = 1200000, UNKNOWN_MS = 60000, LOST_MS = 180000;

  // A finite number, or NaN for anything else (a missing field, a string): each rule reads NaN as unknown.
  function num(x) { return Number.isFinite(x) ? x : NaN; }

  // Uniform ±20% so that visitors who arrived together stop polling in step.
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

  // A tenth of the wait, within [5 s, 20 min]: poll load grows with the log of the crowd. The ceiling is
  // what the far back of a long line costs (2,000,000 waiting at a 20-minute ceiling poll ~1,500 times a
  // second; at 15 minutes ~2,000, at 5 minutes ~6,700): over three hours from the front, twenty minutes
  // between checks changes nothing the visitor sees, and with its jitter (24 minutes at most) it stays
  // under the default 30-minute pass, so a visitor let in sooner than estimated still comes back in time. An unknown wait polls once a minute, so a paused line
  // that restarts is noticed soon.
  function nextPollDelayMs(aheadCount, ratePerMinute, random) {
    var w = estimatedWaitMinutes(aheadCount, ratePerMinute);
    var centre = w === null ? UNKNOWN_MS : clamp(w * 60000 / 10, MIN_MS, FAR_MS);
    return jitter(centre, random);
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

  // A place the room no longer knows: the line has moved three minutes of releases past this ticket and
  // the page has said "at the front" for three minutes, yet /poll still does not admit. Tickets can be off
  // by a second or so of arrivals, hence a margin in minutes; a paused line (rate 0) never counts.
  function placeLost(ticket, releasedTotal, rate, frontSinceMs, nowMs) {
    var t = num(ticket), r = num(releasedTotal), q = num(rate), since = num(frontSinceMs), now = num(nowMs);
    if (isNaN(t) || isNaN(r) || !(q > 0) || !(since > 0) || isNaN(now)) return false;
    return r - t >= q * LOST_MS / 60000 && now - since >= LOST_MS;
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
    wakeDelayMs: wakeDelayMs, placeLost: placeLost, peopleAhead: peopleAhead,
    estimatedWaitMinutes: estimatedWaitMinutes, aheadNow: aheadNow, formatWait: formatWait, fill: fill
  };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (root) root.BeekeeperPoll = api;
})(typeof window !== "undefined" ? window : null);
