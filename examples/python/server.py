"""A destination's backend in Python, verifying Beekeeper's signed pass with PyJWT.

The visitor arrives from the waiting room at /?bk_pass=<JWT>; the pass is checked offline against the
room's JWKS (PyJWKClient fetches it once, caches it, and fetches again for a `kid` it does not know, as
after `beekeeper rotate-key`), then this site keeps its own session and the pass is not needed again.

Run: BK_ROOM_URL=https://…/live/ PORT=3000 python server.py   (needs `pip install "PyJWT[crypto]"`)
"""

import json
import os
import secrets
import sys
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt

ROOM = os.environ.get("BK_ROOM_URL", "")  # the waiting room's URL, ending in "/": the passes' `iss`
PORT = int(os.environ.get("PORT", "3000"))
SITE = os.environ.get("SITE_ORIGIN", f"http://127.0.0.1:{PORT}")  # this site's origin: their `aud`
if not ROOM.endswith("/"):
    sys.exit("set BK_ROOM_URL to the waiting room's URL, ending in '/'")
KEYS = jwt.PyJWKClient(ROOM + ".well-known/jwks.json", cache_keys=True)
SESSIONS = {}  # session id -> {"sub", "exp"}; a real site uses its own session store


def verify_pass(token):
    key = KEYS.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["ES256"],
        audience=SITE,
        issuer=ROOM,
        leeway=30,
        options={"require": ["exp", "nbf", "iss", "aud", "sub"]},
    )


class Site(BaseHTTPRequestHandler):
    def do_GET(self):
        passes = parse_qs(urlsplit(self.path).query).get("bk_pass")
        if passes:
            try:
                claims = verify_pass(passes[0])
            except (jwt.PyJWTError, jwt.PyJWKClientError) as e:
                return self.answer(403, "text/plain", f"refused: {type(e).__name__}: {e}\n")
            sid = secrets.token_urlsafe(16)
            SESSIONS[sid] = {"sub": claims["sub"], "exp": claims["exp"]}
            secure = "; Secure" if SITE.startswith("https:") else ""
            max_age = max(0, int(claims["exp"] - time.time()))
            cookie = f"site_session={sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
            return self.answer(303, None, "", {"Location": "/", "Set-Cookie": cookie})
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        session = SESSIONS.get(jar["site_session"].value) if "site_session" in jar else None
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
