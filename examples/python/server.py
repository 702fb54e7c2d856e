"""A destination's backend in Python, verifying Beekeeper's signed pass with PyJWT.

The visitor arrives from the waiting room at /?bk_pass=<JWT>; the pass is checked offline against the
room's JWKS (fetched once and cached; fetched again for a `kid` it does not know, as after `beekeeper
rotate-key`, but at most every 30 s, so forged passes with random kids cannot flood the room's JWKS), then
this site keeps its own session and the pass is not needed again. A pass is redeemed once: it travels in a
URL, and a URL gets shared. While the room is off (`beekeeper off`) it sends visitors here without a pass,
so a visitor without a session is let in when the room's client check says it is off, instead of being
sent back to the room (which would send them here again, forever).

Run: BK_ROOM_URL=https://…/live/ PORT=3000 python server.py   (needs `pip install "PyJWT[crypto]"`)
"""

import json
import os
import secrets
import sys
import threading
import time
import urllib.request
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt

ROOM = os.environ.get("BK_ROOM_URL", "")  # the waiting room's URL, ending in "/": the passes' `iss`
PORT = int(os.environ.get("PORT", "3000"))
SITE = os.environ.get("SITE_ORIGIN", f"http://127.0.0.1:{PORT}")  # this site's origin: their `aud`
if not ROOM.endswith("/"):
    sys.exit("set BK_ROOM_URL to the waiting room's URL, ending in '/'")
KEYS = jwt.PyJWKClient(ROOM + ".well-known/jwks.json", timeout=3)
SESSIONS = {}  # session id -> {"sub", "exp"}; a real site uses its own session store
# Passes already redeemed, by `jti`, until they expire. A real site keeps these where every server sees
# them (its database, or Redis `SET jti 1 NX EXAT exp`), since a shared URL may reach any of them.
SPENT = {}
LOCK = threading.Lock()
FETCH_LOCK = threading.Lock()  # one JWKS refetch at a time
REFETCH_EVERY = 30  # seconds between JWKS fetches for unknown kids
last_fetch = [float("-inf")]
room_off = {"at": 0.0, "off": False}


def cached_key(kid):
    return next((k for k in KEYS.get_signing_keys() if k.key_id == kid), None)


def signing_key(kid):
    """The room's key `kid`: from the cached JWKS, else from one refetch, at most every REFETCH_EVERY s.
    Requests for a new kid wait for the one refetch in flight (3 s at most) rather than start their own."""
    key = cached_key(kid)
    if key:
        return key
    with FETCH_LOCK:
        key = cached_key(kid)  # fetched by the request we waited for
        if key:
            return key
        if time.monotonic() - last_fetch[0] < REFETCH_EVERY:
            raise jwt.PyJWKClientError(f"unknown key {kid!r}")
        last_fetch[0] = time.monotonic()
        for key in KEYS.get_signing_keys(refresh=True):
            if key.key_id == kid:
                return key
    raise jwt.PyJWKClientError(f"unknown key {kid!r}")


def verify_pass(token):
    key = signing_key(jwt.get_unverified_header(token).get("kid"))
    return jwt.decode(
        token,
        key.key,
        algorithms=["ES256"],
        audience=SITE,
        issuer=ROOM,
        leeway=30,
        options={"require": ["exp", "nbf", "iss", "aud", "sub", "jti"]},
    )


def redeem(claims):
    """Records the pass as redeemed; False when it already was."""
    now = time.time()
    with LOCK:
        for jti in [j for j, exp in SPENT.items() if exp + 30 < now]:
            del SPENT[jti]
        if claims["jti"] in SPENT:
            return False
        SPENT[claims["jti"]] = claims["exp"]
        return True


def is_room_off():
    """Whether the room is off, asked at most every 5 s; any failure counts as "on" (join the line)."""
    if time.monotonic() - room_off["at"] < 5:
        return room_off["off"]
    try:
        with urllib.request.urlopen(ROOM + "client-check", timeout=2) as r:
            off = json.load(r).get("open") is False
    except (OSError, ValueError):
        off = False
    room_off.update(at=time.monotonic(), off=off)
    return off


class Site(BaseHTTPRequestHandler):
    def do_GET(self):
        passes = parse_qs(urlsplit(self.path).query).get("bk_pass")
        if passes:
            try:
                claims = verify_pass(passes[0])
            except (jwt.PyJWTError, jwt.PyJWKClientError) as e:
                return self.answer(403, "text/plain", f"refused: {type(e).__name__}: {e}\n")
            if not redeem(claims):
                return self.answer(403, "text/plain", "refused: this pass was already used\n")
            sid = secrets.token_urlsafe(16)
            SESSIONS[sid] = {"sub": claims["sub"], "exp": claims["exp"]}
            secure = "; Secure" if SITE.startswith("https:") else ""
            max_age = max(0, int(claims["exp"] - time.time()))
            cookie = f"site_session={sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
            return self.answer(303, None, "", {"Location": "/", "Set-Cookie": cookie})
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        session = SESSIONS.get(jar["site_session"].value) if "site_session" in jar else None
        if (not session or session["exp"] <= time.time()) and is_room_off():
            body = json.dumps({"welcome": None, "room": "off"}) + "\n"  # the room is off: everyone comes in
            return self.answer(200, "application/json", body)
        if not session or session["exp"] <= time.time():
            return self.answer(302, None, "", {"Location": ROOM})  # no session: join the line
        body = json.dumps({"welcome": session["sub"], "until": session["exp"]}) + "\n"
        self.answer(200, "application/json", body)

    def answer(self, status, content_type, body, headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        data = body.encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    print(f"listening on {SITE}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", PORT), Site).serve_forever()
