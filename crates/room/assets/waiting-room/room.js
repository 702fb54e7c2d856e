// Why: wires poll.js's rules to the page. The place came with the page (#bk-state). If GET / could not
// confirm it (`pending`), the page does at once (POST join), or by beacon if hidden or closed first. It
// polls, counts down, and when let in asks POST join for the pass and goes. Where counting cannot tell
// (slept through its turn, stuck at the front) it asks the room (POST join) and says what the room says.
(function () {
  "use strict";
  var P = window.BeekeeperPoll, S = window.BeekeeperStrings.pick(navigator.languages || [navigator.language]);
  var nf = new Intl.NumberFormat(S.locale);
  var tf = new Intl.DateTimeFormat(S.locale, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var st = { ahead: null, rate: 0, at: 0, first: null, failures: 0, done: false, timer: 0, said: "", saidAt: 0,
    polledAt: 0, notBefore: 0, inFlight: false, frontSince: 0, pending: false, askedAt: 0, returning: false };
  var ticket = null, root = document.documentElement;

  function $(id) { return document.getElementById(id); }
  function text(id, s) { var el = $(id); if (el.textContent !== s) el.textContent = s; }
  function store(fn) { try { return fn(); } catch (e) { return null; } }
  function status(s, ok) { $("status").className = ok ? "status ok" : "status"; text("status", s); }

  var boot = store(function () { return JSON.parse($("bk-state").textContent); }) || {};
  // The stage prefix ("" or "/name"); anything else (it would send requests elsewhere) is ignored.
  var base = typeof boot.base == "string" && /^(\/[A-Za-z0-9_-]+)?$/.test(boot.base) ? boot.base : "";

  root.lang = S.locale;
  [].forEach.call(document.querySelectorAll("[data-s]"), function (el) { el.textContent = S[el.getAttribute("data-s")]; });

  function safeUrl(s) {
    if (typeof s != "string" || !s) return null; // `new URL(null)` is the relative URL "null"
    try { var u = new URL(s, location.href); return /^https?:$/.test(u.protocol) ? u.href : null; } catch (e) { return null; }
  }

  function render() {
    if (st.ahead === null || st.done) return;
    var a = P.aheadNow(st.ahead, st.rate, Date.now() - st.at);
    text("ahead", nf.format(a));
    text("wait", P.formatWait(P.estimatedWaitMinutes(a, st.rate), S));
    $("front").hidden = a > 0 || st.returning;
    $("bar").value = st.first > 0 ? Math.round(100 * (st.first - a) / st.first) : 100;
    return a;
  }

  // Timers re-run whatever was last tried (a failed join is retried as one).
  function schedule(ms) { clearTimeout(st.timer); st.timer = setTimeout(st.again || poll, ms); }

  function finish(message, to, delayMs) {
    st.done = true;
    clearTimeout(st.timer);
    status(message, true);
    $("go").setAttribute("href", to);
    $("turn").hidden = false;
    setTimeout(function () { location.replace(to); }, delayMs);
  }

  // The room says the place is over: say why, offer the rejoin form.
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

  var OVER = { expired: "expired", gone: "gone", unknown: "unknown" };

  // Acts on an answer; false when it is not one (counted as a failed request).
  function handle(d, joined) {
    if (!wellFormed(d)) return false;
    var to = safeUrl(d.redirect);
    // The join hands over the pass (a poll never does), on a route no rush of arrivals holds up.
    if (d.admitted && !to && !joined) { st.again = join; schedule(0); return true; }
    if (d.admitted) { finish(S.turn, to || new URL(base + "/", location.href).href, 0); return true; }
    if (!d.open && to) { finish(S.closed, to, 2500); return true; }
    if (OVER[d.place]) { ended(S[OVER[d.place]]); return true; }
    if (d.place === "returning" || d.place === "waiting") st.returning = d.place === "returning";
    st.failures = 0;
    var now = Date.now();
    st.ahead = st.returning || d.expired === true ? 0 : P.peopleAhead(ticket, d.releasedTotal);
    st.rate = d.rate;
    st.at = now;
    st.frontSince = st.ahead > 0 || !d.open ? 0 : st.frontSince || now;
    if (d.open && !st.pending && P.askDue(d.expired === true, st.frontSince, st.askedAt, now)) {
      st.again = join;
      schedule(0);
      return true;
    }
    if (st.first === null || st.ahead > st.first) {
      st.first = st.ahead;
      store(function () { localStorage.setItem("bk_first", ticket + ":" + st.first); });
    }
    $("place").hidden = false;
    $("joining").hidden = true;
    status(st.returning ? S.returning : d.open ? "" : S.paused, st.returning);
    if (st.polledAt) text("checked", P.fill(S.lastChecked, "t", tf.format(new Date())));
    var a = render(), s = S.aheadLabel + ": " + nf.format(a) + ". " + S.waitLabel + ": " + $("wait").textContent + ".";
    // Screen readers hear it at most once a minute (and at the front).
    if (s !== st.said && (a === 0 || Date.now() - st.saidAt >= 60000)) {
      st.said = s; st.saidAt = Date.now(); text("announce", s);
    }
    if (!st.pending) schedule(P.nextPollDelayMs(st.ahead, st.rate, Math.random, boot.session));
    return true;
  }

  // Errors never clear the place; they slow polling down (after a 503, no sooner than Retry-After).
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

  // Confirms the place (link scanners run no script) and asks where it stands.
  function join() {
    st.again = join;
    st.polledAt = st.askedAt = Date.now();
    request("/join", { method: "POST" }, function (d) {
      if (!wellFormed(d)) return false;
      st.again = poll;
      st.pending = false;
      return handle(d, true);
    });
  }

  // Hidden or closed before confirming: a beacon is delivered even then.
  function beacon() {
    if (st.pending && !st.done && navigator.sendBeacon) store(function () { navigator.sendBeacon(base + "/join"); });
  }

  // Back from sleep or offline: redraw, and check now unless just checked or told to wait.
  function wake() {
    if (st.done || document.visibilityState === "hidden") return;
    render();
    schedule(Math.max(P.wakeDelayMs(st.polledAt, Date.now()), st.notBefore - Date.now(), 0));
  }

  function start() {
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") beacon(); else wake();
    });
    window.addEventListener("pagehide", beacon);
    window.addEventListener("online", wake);
    window.addEventListener("pageshow", function (e) { if (e.persisted) wake(); });
    setInterval(render, 1000);
    if (OVER[boot.place]) return ended(S[OVER[boot.place]]);
    // Without cookies it would wait forever: say so.
    if (!navigator.cookieEnabled || !/(?:^|;\s*)bk_ticket=\d/.test(document.cookie)) {
      st.done = true;
      $("joining").hidden = false;
      return text("joining", S.noCookies);
    }
    st.pending = boot.pending === true;
    if (st.pending) st.again = join;
    var m = /(?:^|;\s*)bk_ticket=(\d{1,15})(?:;|$)/.exec(document.cookie);
    ticket = Number.isFinite(boot.ticket) ? boot.ticket : m ? Number(m[1]) : null;
    var kept = String(store(function () { return localStorage.getItem("bk_first"); })).split(":");
    if (Number(kept[0]) === ticket && /^\d+$/.test(kept[1])) st.first = Number(kept[1]);
    // The embedded state schedules the first poll; a pending place is confirmed now.
    if (!handle(boot) || st.pending) (st.again || poll)();
  }

  // A prerendered page is no visitor yet: it starts when shown.
  if (document.prerendering) document.addEventListener("prerenderingchange", start, { once: true });
  else start();
})();
