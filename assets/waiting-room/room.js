// Why: wires poll.js's rules to the page. The producer gave a newcomer their place with the page and
// embedded where they stand (#bk-state), so an arrival costs that one request. The first scheduled poll is
// a POST {base}/join that confirms the place (link fetchers never send it, so their places are passed
// over); the page then polls {base}/poll, counts down, follows admission, re-checks when the tab wakes up, and says plainly
// when a session ended or a place is lost, with a one-click rejoin (a plain form, so it needs no script).
(function () {
  "use strict";
  var P = window.BeekeeperPoll, S = window.BeekeeperStrings.pick(navigator.languages || [navigator.language]);
  var nf = new Intl.NumberFormat(S.locale);
  var tf = new Intl.DateTimeFormat(S.locale, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var st = { ahead: null, rate: 0, at: 0, first: null, failures: 0, done: false, timer: 0, said: "", saidAt: 0,
    polledAt: 0, notBefore: 0, inFlight: false, frontSince: 0, releasedTotal: 0 };
  var ticket = null, root = document.documentElement;

  function $(id) { return document.getElementById(id); }
  function text(id, s) { var el = $(id); if (el.textContent !== s) el.textContent = s; }
  function store(fn) { try { return fn(); } catch (e) { return null; } }
  function status(s, ok) { $("status").className = ok ? "status ok" : "status"; text("status", s); }

  var boot = store(function () { return JSON.parse($("bk-state").textContent); }) || {};
  // The stage prefix ("" or "/name"); anything else would send requests elsewhere, so it is ignored.
  var base = typeof boot.base == "string" && /^(\/[A-Za-z0-9_-]+)?$/.test(boot.base) ? boot.base : "";

  root.lang = S.locale;
  [].forEach.call(document.querySelectorAll("[data-s]"), function (el) { el.textContent = S[el.getAttribute("data-s")]; });

  function safeUrl(s) {
    try { var u = new URL(s, location.href); return /^https?:$/.test(u.protocol) ? u.href : null; } catch (e) { return null; }
  }

  function render() {
    if (st.ahead === null || st.done) return;
    var a = P.aheadNow(st.ahead, st.rate, Date.now() - st.at);
    text("ahead", nf.format(a));
    text("wait", P.formatWait(P.estimatedWaitMinutes(a, st.rate), S));
    $("front").hidden = a > 0;
    $("bar").value = st.first > 0 ? Math.round(100 * (st.first - a) / st.first) : 100;
    return a;
  }

  // Timers re-run whatever was last tried: a failed confirmation is retried as one, not as a poll.
  function schedule(ms) { clearTimeout(st.timer); st.timer = setTimeout(st.again || poll, ms); }

  function finish(message, to, delayMs) {
    st.done = true;
    clearTimeout(st.timer);
    status(message, true);
    $("go").setAttribute("href", to);
    $("turn").hidden = false;
    setTimeout(function () { location.replace(to); }, delayMs);
  }

  // The place is gone (session over, or the room does not know the token): say so, offer the rejoin form.
  function ended(why) {
    st.done = true;
    clearTimeout(st.timer);
    status("");
    $("place").hidden = $("intro").hidden = $("hint").hidden = $("joining").hidden = true;
    text("rejoin-why", why);
    $("rejoin").hidden = false;
  }

  // One shape for the embedded state, the join answer and every poll answer.
  function wellFormed(d) {
    return !!d && typeof d.admitted == "boolean" && typeof d.open == "boolean" &&
      Number.isFinite(d.releasedTotal) && Number.isFinite(d.rate);
  }

  // Acts on an answer. False when it is not one (malformed, or admitted with no safe address to go to):
  // the caller counts that as a failed request.
  function handle(d) {
    if (!wellFormed(d)) return false;
    var to = safeUrl(d.redirect);
    if (d.admitted) {
      if (to) finish(S.turn, to, 0);
      return !!to;
    }
    if (!d.open && to) { finish(S.closed, to, 2500); return true; }
    if (d.expired === true) { ended(S.expired); return true; }
    st.failures = 0;
    st.ahead = P.peopleAhead(ticket, d.releasedTotal);
    st.rate = d.rate;
    st.at = Date.now();
    st.frontSince = st.ahead > 0 || !d.open ? 0 : st.frontSince || st.at;
    if (d.open && P.placeLost(ticket, d.releasedTotal, d.rate, st.frontSince, st.at)) { ended(S.lost); return true; }
    if (st.first === null || st.ahead > st.first) {
      st.first = st.ahead;
      store(function () { localStorage.setItem("bk_first", ticket + ":" + st.first); });
    }
    $("place").hidden = false;
    $("joining").hidden = true;
    status(d.open ? "" : S.paused);
    if (st.polledAt) text("checked", P.fill(S.lastChecked, "t", tf.format(new Date())));
    var a = render(), s = S.aheadLabel + ": " + nf.format(a) + ". " + S.waitLabel + ": " + $("wait").textContent + ".";
    // Screen readers hear the place at most once a minute (and at the front), not on every poll.
    if (s !== st.said && (a === 0 || Date.now() - st.saidAt >= 60000)) {
      st.said = s; st.saidAt = Date.now(); text("announce", s);
    }
    schedule(P.nextPollDelayMs(st.ahead, st.rate, Math.random));
    return true;
  }

  // Errors never clear the place on screen; they only slow the polling down. A 503 is the room saying
  // "busy": the visitor keeps their place and the page comes back no sooner than Retry-After.
  function failed(retryAfter) {
    if (st.done) return;
    st.failures++;
    status(retryAfter !== undefined ? S.busy : S.connection);
    var ms = retryAfter !== undefined ? P.retryDelayMs(retryAfter, st.failures, Math.random)
      : P.backoffDelayMs(st.failures, Math.random);
    st.notBefore = Date.now() + ms;
    schedule(ms);
  }

  // `then` acts on the JSON answer and returns false when it was not one.
  function request(path, init, then) {
    if (st.done || st.inFlight) return;
    st.inFlight = true;
    var ctl = new AbortController(), t = setTimeout(function () { ctl.abort(); }, 15000);
    init.credentials = "same-origin";
    init.cache = "no-store";
    init.headers = { Accept: "application/json" };
    init.signal = ctl.signal;
    fetch(base + path, init)
      .then(function (r) {
        if (r.status === 503) {
          return r.json().catch(function () { return {}; }).then(function (b) {
            failed(r.headers.get("Retry-After") || (b && b.retryAfter) || 5);
          });
        }
        if (!r.ok) return failed();
        return r.json().then(function (d) { if (!then(d)) failed(); });
      })
      .catch(function () { failed(); })
      .then(function () { clearTimeout(t); st.inFlight = false; });
  }

  function poll() {
    st.again = poll;
    st.polledAt = Date.now();
    request("/poll", { method: "GET" }, handle);
  }

  // Confirming the place GET / gave: one same-origin POST, at the first scheduled poll. Link scanners and
  // unfurlers fetch the page but run no script, so they never get here and their places never take a slot.
  function confirm() {
    st.again = confirm;
    st.polledAt = Date.now();
    request("/join", { method: "POST" }, function (d) {
      st.again = poll;
      return handle(d);
    });
  }

  // Back from a sleeping laptop, a locked phone or a lost connection: check now (unless just checked or
  // told to wait), and redraw at once, since background tabs run their timers late.
  function wake() {
    if (st.done || document.visibilityState === "hidden") return;
    render();
    schedule(Math.max(P.wakeDelayMs(st.polledAt, Date.now()), st.notBefore - Date.now(), 0));
  }
  document.addEventListener("visibilitychange", wake);
  window.addEventListener("online", wake);
  window.addEventListener("pageshow", function (e) { if (e.persisted) wake(); });

  setInterval(render, 1000);
  if (boot.state === "expired") return ended(S.expired);
  // A browser that stores no cookies would confirm and poll without a token and wait forever: say so.
  if (boot.pending && (!navigator.cookieEnabled || !/(?:^|;\s*)bk_ticket=\d/.test(document.cookie))) {
    st.done = true;
    $("joining").hidden = false;
    return text("joining", S.noCookies);
  }
  if (boot.pending) st.again = confirm;
  var m = /(?:^|;\s*)bk_ticket=(\d{1,15})(?:;|$)/.exec(document.cookie);
  ticket = Number.isFinite(boot.ticket) ? boot.ticket : m ? Number(m[1]) : null;
  var kept = String(store(function () { return localStorage.getItem("bk_first"); })).split(":");
  if (Number(kept[0]) === ticket && /^\d+$/.test(kept[1])) st.first = Number(kept[1]);
  // The embedded state schedules the first poll by the usual law; only a state that cannot be read
  // costs a poll now.
  if (!handle(boot)) (st.again || poll)();
})();
