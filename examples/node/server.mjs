// A destination's backend in Node, verifying Beekeeper's signed pass with `jose`: the visitor arrives
// from the waiting room at /?bk_pass=<JWT>; the pass is checked offline against the room's JWKS
// (fetched once and cached; fetched again when a rotated key's `kid` appears), then this site keeps its
// own session and the pass is not needed again. Run: BK_ROOM_URL=https://…/live/ PORT=3000 node server.mjs
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

async function verifyPass(pass) {
  const { payload } = await jwtVerify(pass, keys, {
    issuer: room,
    audience: site,
    algorithms: ["ES256"],
    requiredClaims: ["exp", "nbf", "sub"],
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
    if (!s) {
      res.writeHead(302, { Location: room }); // no session: join the line
      return res.end();
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ welcome: s.sub, until: s.exp }) + "\n");
  })
  .listen(port, "127.0.0.1", () => console.log(`listening on ${site}`));
