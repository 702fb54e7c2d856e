// Why: wires poll.js's rules to the page: reads the ticket cookie, polls ../poll, counts down, follows admission.
(function () {
  "use strict";
  var P = window.BeekeeperPoll, S = window.BeekeeperStrings.pick(navigator.languages || [navigator.language]);
  var nf = new Intl.NumberFormat(S.locale);
  var tf = new Intl.DateTimeFormat(S.locale, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var st = { ahead: null, rate: 0, at: 0, first: null, failures: 0, done: false, timer: 0, said: "", saidAt: 0 };
  var ticket = null, root = document.documentElement;

  function $(id) { return document.getElementById(id); }
  function text(id, s) { var el = $(id); if (el.textContent !== s) el.textContent = s; }
  function store(fn) { try { return fn(); } catch (e) { return null; } }
  function num(x) { return typeof x == "number" && isFinite(x); }
  function status(s, ok) { $("status").className = ok ? "status ok" : "status"; text("status", s); }

  root.lang = S.locale;
  document.title = $("name").textContent = S.defaultName;
  [].forEach.call(document.querySelectorAll("[data-s]"), function (el) { el.textContent = S[el.getAttribute("data-s")]; });

  // room.json is operator input: validated, and only ever set through textContent / attributes.
  fetch("room.json", { credentials: "same-origin", cache: "no-cache" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (c) {
      if (!c) return;
      if (typeof c.displayName == "string" && c.displayName.trim()) {
        document.title = $("name").textContent = c.displayName.trim().slice(0, 200);
      }
      if (/^#[0-9a-fA-F]{6}$/.test(c.accentColour)) root.style.setProperty("--accent", c.accentColour);
      if (typeof c.logo == "string" && /^[A-Za-z0-9._-]+$/.test(c.logo) && !/^\.+$/.test(c.logo)) {
        var img = $("logo");
        img.onerror = function () { img.hidden = true; };
        img.setAttribute("src", c.logo);
        img.hidden = false;
      }
    }).catch(function () {});

  function safeUrl(s) {
    try { var u = new URL(s); return /^https?:$/.test(u.protocol) ? u.href : null; } catch (e) { return null; }
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

  function schedule(ms) { clearTimeout(st.timer); st.timer = setTimeout(poll, ms); }

  function finish(message, to, delayMs) {
    st.done = true;
    clearTimeout(st.timer);
    status(message, true);
    $("go").setAttribute("href", to);
    $("turn").hidden = false;
    setTimeout(function () { location.replace(to); }, delayMs);
  }

  function handle(d) {
    if (!d || typeof d.admitted != "boolean" || typeof d.open != "boolean" || !num(d.releasedTotal) || !num(d.rate)) throw 0;
    var to = safeUrl(d.redirect);
    if (d.admitted) { if (!to) throw 0; return finish(S.turn, to, 0); }
    if (!d.open && to) return finish(S.closed, to, 2500);
    st.failures = 0;
    st.ahead = P.peopleAhead(ticket, d.releasedTotal);
    st.rate = d.rate;
    st.at = Date.now();
    if (st.first === null || st.ahead > st.first) {
      st.first = st.ahead;
      store(function () { localStorage.setItem("bk_first", ticket + ":" + st.first); });
    }
    status(d.open ? "" : S.paused);
    text("checked", P.fill(S.lastChecked, "t", tf.format(new Date())));
    var a = render(), s = S.aheadLabel + ": " + nf.format(a) + ". " + S.waitLabel + ": " + $("wait").textContent + ".";
    // Screen readers hear the place at most once a minute (and at the front), not on every poll.
    if (s !== st.said && (a === 0 || Date.now() - st.saidAt >= 60000)) {
      st.said = s; st.saidAt = Date.now(); text("announce", s);
    }
    schedule(P.nextPollDelayMs(st.ahead, st.rate, Math.random));
  }

  // Errors never clear the place on screen; they only slow the polling down.
  function failed() {
    if (st.done) return;
    status(S.connection);
    schedule(P.backoffDelayMs(++st.failures, Math.random));
  }

  function poll() {
    if (st.done) return;
    var ctl = new AbortController(), t = setTimeout(function () { ctl.abort(); }, 15000);
    fetch("../poll", { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" }, signal: ctl.signal })
      .then(function (r) { if (!r.ok) throw 0; return r.json(); })
      .then(handle).catch(failed)
      .then(function () { clearTimeout(t); });
  }

  var m = /(?:^|;\s*)bk_ticket=(\d{1,15})(?:;|$)/.exec(document.cookie);
  if (!m) {
    // No ticket, no place: go to the arrival route, but not again within two minutes, so a
    // browser that refuses cookies does not bounce between the two pages forever.
    $("intro").hidden = $("hint").hidden = true;
    $("noplace").hidden = false;
    var last = Number(store(function () { return sessionStorage.getItem("bk_join"); }));
    if (!navigator.cookieEnabled || Date.now() - last < 120000) return text("joining", S.noCookies);
    return setTimeout(function () {
      store(function () { sessionStorage.setItem("bk_join", String(Date.now())); });
      location.href = "../";
    }, 5000);
  }
  ticket = Number(m[1]);
  $("place").hidden = false;
  var kept = String(store(function () { return localStorage.getItem("bk_first"); })).split(":");
  if (Number(kept[0]) === ticket && /^\d+$/.test(kept[1])) st.first = Number(kept[1]);
  window.addEventListener("online", function () { if (st.failures > 0) schedule(0); });
  setInterval(render, 1000);
  poll();
})();
