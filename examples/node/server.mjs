// A destination's backend in Node, verifying Beekeeper's signed pass with `jose`: the visitor arrives
// from the waiting room at /?bk_pass=<JWT>; the pass is checked offline against the room's JWKS
// (fetched once and cached; fetched again when a rotated key's `kid` appears), then this site keeps its
// own session and the pass is not needed again. A pass is redeemed once: it travels in a URL, and a URL
// gets shared. While the room is off (`beekeeper off`) it sends visitors here without a pass, so a visitor
// without a session is let in when the room's client check says it is off, instead of being sent back
// to the room (which would send them here again, forever).
// Run: BK_ROOM_URL=https://…/live/ PORT=3000 node server.mjs
import http from "node:http";
import { randomBytes } from "node:crypto";
import { createRemoteJWKSet, jwtVerify } from "jose";

const room = process.env.BK_ROOM_URL; // the waiting room's URL, ending in "/": the passes' `iss`
const port = Number(process.env.PORT || 3000);
const site = process.env.SITE_ORIGIN || `http://127.0.0.1:${port}`; // this site's origin: their `aud`
if (!room || !room.endsWith("/")) {
  console.error("set BK_ROOM_URL to the waiting room's URL, ending in '/'");
  process.exit(2);
}
const keys = createRemoteJWKSet(new URL(".well-known/jwks.json", room));
const sessions = new Map(); // session id -> { sub, exp }; a real site uses its own session store
// Passes already redeemed, by `jti`, until they expire. A real site keeps these where every server sees
// them (its database, or Redis `SET jti 1 NX EXAT exp`), since a shared URL may reach any of them.
const spent = new Map();

/** Records the pass as redeemed; false when it already was. */
function redeem(claims) {
  const now = Date.now() / 1000;
  for (const [jti, exp] of spent) if (exp + 30 < now) spent.delete(jti);
  if (!claims.jti || spent.has(claims.jti)) return false;
  spent.set(claims.jti, claims.exp);
  return true;
}

// Whether the room is off, asked at most every 5 s; any failure counts as "on" (join the line).
let roomOff = { at: 0, off: false };
async function isRoomOff() {
  if (Date.now() - roomOff.at < 5000) return roomOff.off;
  let off = false;
  try {
    const r = await fetch(new URL("client-check", room), { signal: AbortSignal.timeout(2000) });
    off = r.ok && (await r.json()).open === false;
  } catch {
    off = false;
  }
  roomOff = { at: Date.now(), off };
  return off;
}

async function verifyPass(pass) {
  const { payload } = await jwtVerify(pass, keys, {
    issuer: room,
    audience: site,
    algorithms: ["ES256"],
    requiredClaims: ["exp", "nbf", "sub", "jti"],
    clockTolerance: 30,
  });
  return payload;
}

function session(req) {
  const id = /(?:^|;\s*)site_session=([A-Za-z0-9_-]+)/.exec(req.headers.cookie || "")?.[1];
  const s = id && sessions.get(id);
  return s && s.exp > Date.now() / 1000 ? s : null;
}

http
  .createServer(async (req, res) => {
    const pass = new URL(req.url, site).searchParams.get("bk_pass");
    if (pass) {
      let claims;
      try {
        claims = await verifyPass(pass);
      } catch (e) {
        res.writeHead(403, { "Content-Type": "text/plain" });
        return res.end(`refused: ${e.code || e.message}\n`);
      }
      if (!redeem(claims)) {
        res.writeHead(403, { "Content-Type": "text/plain" });
        return res.end("refused: this pass was already used (a pass lets in one visitor, once)\n");
      }
      const id = randomBytes(16).toString("base64url");
      sessions.set(id, { sub: claims.sub, exp: claims.exp });
      const secure = site.startsWith("https:") ? "; Secure" : "";
      const maxAge = Math.max(0, claims.exp - Math.floor(Date.now() / 1000));
      res.writeHead(303, {
        Location: "/",
        "Set-Cookie": `site_session=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure}`,
      });
      return res.end();
    }
    const s = session(req);
    if (!s && (await isRoomOff())) {
      res.writeHead(200, { "Content-Type": "application/json" }); // the room is off: everyone comes in
      return res.end(JSON.stringify({ welcome: null, room: "off" }) + "\n");
    }
    if (!s) {
      res.writeHead(302, { Location: room }); // no session: join the line
      return res.end();
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ welcome: s.sub, until: s.exp }) + "\n");
  })
  .listen(port, "127.0.0.1", () => console.log(`listening on ${site}`));
