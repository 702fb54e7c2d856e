# Why: the /poll and /client-check mapping templates run only inside API Gateway, which no test here can reach;
# this renders the very .vtl files `deploy` uploads with two independent engines (LocalStack's API Gateway
# renderer on airspeed, and Apache Velocity 1.7 on Java when it is installed) against the shared contract
# vectors, with BatchGetItem simulated over each vector's items in every order. A vector may also say how
# DynamoDB misbehaves ("dynamodb": {"unprocessed": [keys]} or {"error": {...}}): unprocessed keys come back
# in UnprocessedKeys, and an error selects the routes' 503 integration response (unavailable-response.vtl).
import itertools
import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from localstack.services.apigateway.next_gen.execute_api.template_mapping import ApiGatewayVtlTemplate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = ROOT / "crates" / "core" / "src" / "vtl"
VECTOR_DIR = ROOT / "tests" / "contract"
TABLE = "beekeeper-test-table"
ROOM = "#room"  # the room item as vectors hold it; the templates read its copies (#room#0 … #room#9)
COPIES = [f"#room#{d}" for d in range(10)]
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
ROUTES = {
    "/poll": ("poll-request.vtl", "poll-response.vtl"),
    "/client-check": ("client-check-request.vtl", "client-check-response.vtl"),
}
BODY_KEYS = {
    "/poll": {"admitted", "redirect", "releasedTotal", "rate", "open", "expired"},
    "/client-check": {"allowed", "open", "expiresAt"},
}
BUSY = {"error": "busy", "retryAfter": 5}
BUSY_HEADERS = {"Retry-After": "5"}
UNAVAILABLE = "unavailable-response.vtl"
NOW_MS = 1700000000000
T1 = "gaR8isBlSipg_wAVpRZ5JQ"


def room_copy(epoch_ms: int) -> str:
    """The copy a request reads (contract.rs, room_copy_key): the last digit of its epoch milliseconds."""
    return f"#room#{epoch_ms % 10}"


def template(name: str) -> str:
    """A template's text as deploy uploads it (the table name filled in)."""
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8").replace("__TABLE__", TABLE)


def load_vectors():
    return [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(VECTOR_DIR.glob("*.json"))]


VECTORS = load_vectors()
VECTOR_IDS = [name for name, _ in VECTORS]


# ---------------------------------------------------------------- reference model (from the contract, not the VTL)


def ref_token(route: str, request: dict):
    """The token the route must look up, decided the way crates/core/src/cookie.rs reads cookies."""
    if route == "/client-check":
        value = request.get("query", {}).get("token", "")
        return value if TOKEN.fullmatch(value) else None
    header = ";".join(v for k, v in request.get("headers", {}).items() if k.lower() == "cookie")
    for pair in header.split(";"):
        if "=" not in pair:
            continue
        name, value = pair.split("=", 1)
        if name.strip(" \t") == "bk_token" and TOKEN.fullmatch(value.strip(" \t")):
            return value.strip(" \t")
    return None


def ref_answer(route: str, request: dict, items: list, dynamodb: dict | None = None):
    """(status, headers, body) the route must answer, from the contract: 503 busy whenever the room state
    was not fully read (an error, any unprocessed key, no room item, or one without a BOOL `open`), else
    200 and the body."""
    dynamodb = dynamodb or {}
    unprocessed = set(dynamodb.get("unprocessed", []))
    read = [i for i in items if i["pk"]["S"] not in unprocessed]
    copy = room_copy(request["requestTimeEpoch"])
    # A room item whose `open` is not a BOOL is no room state: read as "closed" it would let everyone in.
    room_read = any(i["pk"]["S"] in (ROOM, copy) and isinstance(i.get("open", {}).get("BOOL"), bool)
                    for i in read)
    if "error" in dynamodb or unprocessed or not room_read:
        return 503, BUSY_HEADERS, BUSY
    return 200, {}, ref_body(route, request, read)


def ref_body(route: str, request: dict, items: list) -> dict:
    now = request["requestTimeEpoch"] / 1000
    by_key = {i["pk"]["S"]: i for i in as_stored(items)}
    room = by_key.get(room_copy(request["requestTimeEpoch"]))
    token = ref_token(route, request)
    item = by_key.get(token) if token else None
    valid = item is not None and int(item["expires_at"]["N"]) > now
    is_open = bool(room and room.get("open", {}).get("BOOL"))
    if route == "/client-check":
        return {"allowed": valid or not is_open, "open": is_open,
                "expiresAt": int(item["expires_at"]["N"]) if valid else None}
    dest = room["destination"]["S"] if room else None
    # An admitted visitor's page loads the room's page, which hands the pass over: never in this answer.
    redirect = dest if (not valid and not is_open and dest) else None
    return {"admitted": valid, "redirect": redirect,
            "releasedTotal": int(room["released_total"]["N"]) if room else 0,
            "rate": int(room["rate"]["N"]) if room else 0, "open": is_open,
            "expired": item is not None and not valid}


# ---------------------------------------------------------------- DynamoDB BatchGetItem, simulated


def test_only_the_gate_reads_strongly_consistent():
    """/client-check must see a token item the release wrote a moment ago; /poll stays eventually
    consistent (a stale read only delays a visitor by one poll, and polls are the busiest route)."""
    request = {"headers": {"Cookie": f"bk_token={'A' * 22}"}, "query": {"token": "A" * 22},
               "requestTimeEpoch": 1_700_000_000_000}
    for route, consistent in (("/client-check", True), ("/poll", False)):
        body = json.loads(render(ROUTES[route][0], request))
        assert body["RequestItems"][TABLE].get("ConsistentRead", False) is consistent, route


def requested_keys(rendered: str) -> list:
    """The keys a rendered request template asks for, after checking it is a well-formed BatchGetItem body."""
    body = json.loads(rendered)
    assert set(body) == {"RequestItems"}, rendered
    assert set(body["RequestItems"]) == {TABLE}, rendered
    table = body["RequestItems"][TABLE]
    assert set(table) <= {"Keys", "ConsistentRead", "ProjectionExpression", "ExpressionAttributeNames"}, rendered
    keys = []
    for key in table["Keys"]:
        assert set(key) == {"pk"} and set(key["pk"]) == {"S"} and isinstance(key["pk"]["S"], str), rendered
        keys.append(key["pk"]["S"])
    assert 1 <= len(keys) <= 100 and len(set(keys)) == len(keys), f"DynamoDB rejects duplicate keys: {rendered}"
    return keys


def expected_keys(route: str, request: dict) -> list:
    token = ref_token(route, request)
    return [room_copy(request["requestTimeEpoch"])] + ([token] if token else [])


def as_stored(items: list) -> list:
    """The table as DynamoDB holds it: a vector's room item stands for the room item and each of its
    copies, which every room write keeps equal."""
    out = []
    for i in items:
        if i["pk"]["S"] == ROOM:
            out += [i | {"pk": {"S": k}} for k in [ROOM] + COPIES]
        else:
            out.append(i)
    return out


def batch_get_results(keys: list, items: list, dynamodb: dict | None = None) -> list:
    """Every answer DynamoDB may give: the requested items that exist, in every order (order is not
    guaranteed), minus the keys the vector leaves unprocessed; or its error body."""
    dynamodb = dynamodb or {}
    if "error" in dynamodb:
        return [json.dumps(dynamodb["error"])]
    left_out = dynamodb.get("unprocessed", [])
    unprocessed = [k for k in keys if k in left_out or (k in COPIES and ROOM in left_out)]
    found = [i for i in as_stored(items) if i["pk"]["S"] in keys and i["pk"]["S"] not in unprocessed]
    left = {TABLE: {"Keys": [{"pk": {"S": k}} for k in unprocessed]}} if unprocessed else {}
    return [json.dumps({"Responses": {TABLE: list(p)}, "UnprocessedKeys": left})
            for p in itertools.permutations(found)]


def response_template(route: str, dynamodb: dict | None) -> tuple:
    """The integration response API Gateway selects: the route's template with status 200, or, for a
    DynamoDB error status (the 503 response's selection pattern), the unavailable template with 503."""
    if dynamodb and "error" in dynamodb:
        return UNAVAILABLE, 503
    return ROUTES[route][1], 200


# ---------------------------------------------------------------- engine 1: LocalStack's API Gateway renderer


def render(name: str, request: dict, body: str = "", response: bool = False) -> str:
    """Render one template as LocalStack's API Gateway does for an AWS (non-proxy) integration."""
    return render_with_overrides(name, request, body, response)[0]


def render_with_overrides(name: str, request: dict, body: str = "", response: bool = False) -> tuple:
    """(rendered text, the $context.responseOverride the template set)."""
    variables = {
        "context": {"requestTimeEpoch": request["requestTimeEpoch"], "stage": "test", "httpMethod": "GET",
                    "requestOverride": {}, "responseOverride": {}},
        "stageVariables": {},
        "input": {"body": body, "params": {"path": {}, "querystring": dict(request.get("query", {})),
                                            "header": dict(request.get("headers", {}))}},
    }
    overrides = {"requestOverride": {"header": {}, "path": {}, "querystring": {}},
                 "responseOverride": {"header": {}, "status": 0}}
    vtl = ApiGatewayVtlTemplate()
    if response:
        out, over = vtl.render_response(template(name), variables, overrides)
        return out, over
    out, _ = vtl.render_request(template(name), variables, overrides)
    return out, {}


def answer(rendered: str, override: dict, default_status: int) -> tuple:
    """(status, headers, body) as API Gateway sends them: a status override replaces the integration
    response's status, header overrides are added."""
    status = override.get("status") or default_status
    return status, dict(override.get("header") or {}), json.loads(rendered)


def through_templates(route: str, request: dict, items: list, dynamodb: dict | None = None):
    """Request template → simulated BatchGetItem → selected response template, for every item order."""
    keys = requested_keys(render(ROUTES[route][0], request))
    name, status = response_template(route, dynamodb)
    answers = [answer(*render_with_overrides(name, request, b, response=True), status)
               for b in batch_get_results(keys, items, dynamodb)]
    return keys, answers


# ---------------------------------------------------------------- engine 2: Apache Velocity 1.7 on Java

JARS = ["velocity.jar", "commons-collections3.jar", "commons-lang.jar",
        "jackson-databind.jar", "jackson-core.jar", "jackson-annotations.jar"]
JAR_DIR = Path(os.environ.get("BEEKEEPER_VELOCITY_JARS", "/usr/share/java"))


def java_available() -> bool:
    return shutil.which("java") is not None and all((JAR_DIR / j).is_file() for j in JARS)


# CI sets BEEKEEPER_REQUIRE_VELOCITY=1: there a missing install must fail the run, not skip the cross-check.
if os.environ.get("BEEKEEPER_REQUIRE_VELOCITY") == "1" and not java_available():
    raise RuntimeError("BEEKEEPER_REQUIRE_VELOCITY=1 but java or the Velocity jars are missing: run tests/setup")

needs_java = pytest.mark.skipif(
    not java_available(),
    reason="Java Velocity cross-check needs java and Debian's velocity, libcommons-lang-java, "
           "libjackson2-databind-java (apt-get install velocity libcommons-lang-java libjackson2-databind-java)",
)


def java_render(jobs: list) -> list:
    """Render many (template name, request, body) jobs in one JVM run of VelocityRender.java."""
    payload = [{"template": template(name), "requestTimeEpoch": req["requestTimeEpoch"], "body": body,
                "params": {"path": {}, "querystring": req.get("query", {}), "header": req.get("headers", {})}}
               for name, req, body in jobs]
    cp = os.pathsep.join(str(JAR_DIR / j) for j in JARS)
    proc = subprocess.run(["java", "-cp", cp, str(Path(__file__).with_name("VelocityRender.java"))],
                          input=json.dumps(payload).encode(), capture_output=True, timeout=300, check=True)
    out = json.loads(proc.stdout)
    for (name, _, _), rendered in zip(jobs, out):
        assert "error" not in rendered, f"{name}: Velocity threw {rendered['error']}"
    return out


def java_answer(rendered: dict, default_status: int) -> tuple:
    return answer(rendered["body"], {"status": rendered["status"], "header": rendered["headers"]}, default_status)


@pytest.fixture(scope="module")
def java_results():
    """Every vector through Java Velocity: request templates in one JVM run, then responses in another."""
    reqs = [r["body"] for r in java_render([(ROUTES[v["route"]][0], v["request"], "") for _, v in VECTORS])]
    jobs, owners = [], []
    for (name, v), rendered in zip(VECTORS, reqs):
        keys = requested_keys(rendered)
        tpl, status = response_template(v["route"], v.get("dynamodb"))
        for body in batch_get_results(keys, v["items"], v.get("dynamodb")):
            jobs.append((tpl, v["request"], body))
            owners.append((name, status))
    results = {name: {"keys": requested_keys(r), "answers": []} for (name, _), r in zip(VECTORS, reqs)}
    for (owner, status), rendered in zip(owners, java_render(jobs)):
        results[owner]["answers"].append(java_answer(rendered, status))
    return results


def expected(vector: dict) -> tuple:
    e = vector["expect"]
    return e["status"], e.get("headers", {}), e["body"]


# ---------------------------------------------------------------- the vectors themselves


def test_there_are_vectors_for_both_routes():
    routes = {v["route"] for _, v in VECTORS}
    assert routes == set(ROUTES) and len(VECTORS) >= 30


@pytest.mark.parametrize("name,vector", VECTORS, ids=VECTOR_IDS)
def test_vector_has_the_shared_format(name, vector):
    assert {"name", "route", "request", "items", "expect"} <= set(vector) <= {
        "name", "route", "request", "items", "expect", "dynamodb"}
    dynamodb = vector.get("dynamodb", {})
    assert set(dynamodb) in (set(), {"unprocessed"}, {"error"}), dynamodb
    assert all(isinstance(k, str) for k in dynamodb.get("unprocessed", []))
    assert vector["route"] in ROUTES and isinstance(vector["name"], str) and vector["name"]
    assert set(vector["request"]) == {"headers", "query", "requestTimeEpoch"}
    assert isinstance(vector["request"]["requestTimeEpoch"], int)
    assert all(isinstance(v, str) for part in ("headers", "query") for v in vector["request"][part].values())
    status, headers, body = expected(vector)
    assert set(vector["expect"]) <= {"status", "headers", "body"}
    if status == 200:
        assert headers == {} and set(body) == BODY_KEYS[vector["route"]]
    else:
        assert (status, headers, body) == (503, BUSY_HEADERS, BUSY)
    keys = [i["pk"]["S"] for i in vector["items"]]
    assert len(keys) == len(set(keys))
    for item in vector["items"]:
        for attr in item.values():  # DynamoDB JSON: one type descriptor per attribute
            assert len(attr) == 1 and next(iter(attr)) in {"S", "N", "BOOL"}
        if TOKEN.fullmatch(item["pk"]["S"]):
            # realistic tokens are base64url of 16 bytes: the last character carries 2 bits, the rest zero
            assert item["pk"]["S"][-1] in "AQgw", item["pk"]["S"]


@pytest.mark.parametrize("name,vector", VECTORS, ids=VECTOR_IDS)
def test_vector_agrees_with_the_contract_model(name, vector):
    assert ref_answer(vector["route"], vector["request"], vector["items"], vector.get("dynamodb")) == expected(vector)


def test_the_fail_closed_cases_have_vectors_on_both_routes():
    """Issue 7: missing room item, unprocessed room, unprocessed token only, DynamoDB error, per route."""
    def kind(v):
        d = v.get("dynamodb", {})
        if "error" in d:
            return "error"
        if ROOM in d.get("unprocessed", []):
            return "unprocessed-room"
        if d.get("unprocessed"):
            return "unprocessed-token"
        return "missing" if not any(i["pk"]["S"] == ROOM for i in v["items"]) else None
    seen = {(v["route"], kind(v)) for _, v in VECTORS if v["expect"]["status"] == 503}
    want = {(r, k) for r in ROUTES for k in ("error", "unprocessed-room", "unprocessed-token", "missing")}
    assert want <= seen, want - seen
    assert any(v["route"] == "/poll" and v["expect"]["body"].get("expired") for _, v in VECTORS)


# ---------------------------------------------------------------- vectors through the templates


@pytest.mark.parametrize("name,vector", VECTORS, ids=VECTOR_IDS)
def test_request_template_asks_for_exactly_the_right_keys(name, vector):
    rendered = render(ROUTES[vector["route"]][0], vector["request"])
    assert requested_keys(rendered) == expected_keys(vector["route"], vector["request"])


@pytest.mark.parametrize("name,vector", VECTORS, ids=VECTOR_IDS)
def test_vector_through_localstack_renderer(name, vector):
    _, answers = through_templates(vector["route"], vector["request"], vector["items"], vector.get("dynamodb"))
    assert answers, "no rendering happened"
    for got in answers:
        assert got == expected(vector)


@needs_java
@pytest.mark.parametrize("name,vector", VECTORS, ids=VECTOR_IDS)
def test_vector_through_java_velocity(name, vector, java_results):
    result = java_results[name]
    assert result["keys"] == expected_keys(vector["route"], vector["request"])
    assert result["answers"]
    for got in result["answers"]:
        assert got == expected(vector)


# ---------------------------------------------------------------- hostile and odd inputs


def room_item(**over):
    item = {"pk": {"S": room_copy(NOW_MS)}, "open": {"BOOL": True}, "rate": {"N": "300"}, "released_total": {"N": "4211"},
            "destination": {"S": "https://shop.example.com/drop"}}
    item.update(over)
    return item


def token_item(token=T1, expires_at=NOW_MS // 1000 + 600):
    return {"pk": {"S": token}, "released_at": {"N": str(expires_at - 600)}, "expires_at": {"N": str(expires_at)}}


def filler_cookies(size: int) -> str:
    rng = random.Random(7)
    parts, total = [], 0
    while total < size + 2:  # joined with one "; " fewer than parts
        p = f"c{len(parts)}={''.join(rng.choice('abcdef0123456789') for _ in range(rng.randint(1, 40)))}"
        parts.append(p)
        total += len(p) + 2
    return "; ".join(parts)


BIG = 16 * 1024
LARGE_HEADERS = {
    "token-last": filler_cookies(BIG) + f"; bk_token={T1}",
    "token-first": f"bk_token={T1}; " + filler_cookies(BIG),
    "token-middle": filler_cookies(BIG // 2) + f"; bk_token={T1}; " + filler_cookies(BIG // 2),
    "decoys-then-token": "; ".join(f"xbk_token={T1}" for _ in range(500)) + f"; bk_token={T1}",
    "many-malformed-then-token": "; ".join(f"bk_token={T1}A" for _ in range(500)) + f"; bk_token={T1}",
    "no-token": filler_cookies(BIG),
}


@pytest.mark.parametrize("shape", list(LARGE_HEADERS))
def test_16kb_cookie_header(shape):
    header = LARGE_HEADERS[shape]
    assert len(header) >= BIG or shape.startswith(("decoys", "many"))
    request = {"headers": {"Cookie": header}, "query": {}, "requestTimeEpoch": NOW_MS}
    keys, answers = through_templates("/poll", request, [room_item(), token_item()])
    want_token = shape != "no-token"
    assert keys == [room_copy(NOW_MS)] + ([T1] if want_token else [])
    for _, _, body in answers:
        assert body["admitted"] is want_token


@needs_java
def test_16kb_cookie_header_on_java_velocity():
    jobs = [("poll-request.vtl", {"headers": {"Cookie": h}, "query": {}, "requestTimeEpoch": NOW_MS}, "")
            for h in LARGE_HEADERS.values()]
    for shape, rendered in zip(LARGE_HEADERS, java_render(jobs)):
        assert requested_keys(rendered["body"]) == [room_copy(NOW_MS)] + ([T1] if shape != "no-token" else []), shape


HOSTILE_COOKIES = [
    "", ";", "=", "bk_token", "bk_token=", "bk_token==", " ; ; ", "bk_token=\"\"",
    f'bk_token="{T1}"', f"bk_token={T1}\"", f"bk_token={T1}\\", f"bk_token={T1}$", "bk_token=$input.body",
    "bk_token=#set($token = 'x')", "bk_token=${token}", f"bk_token=#room; bk_token={T1}",
    f"bk_token={T1[:11]} {T1[11:]}", f"bk_token={T1[:21]}é", "bk_token=\u0000\u0001\u001f",
    f"bk_token={T1}\r\nX-Evil: 1", f"bk_token={T1}\n", "\\\";'{}[]", "bk_token=" + "A" * 5000,
    f"BK_TOKEN={T1}", f"bk_token2={T1}", f"bk_tokenx={T1}; _bk_token={T1}", f"bk_token\t=\t{T1}",
    f"a=\"x; bk_token=y\"; bk_token={T1}", "🐝=🐝; bk_token=🐝🐝🐝🐝🐝🐝🐝🐝🐝🐝🐝",
]


# Issue 8: every request reads one of ten copies of the room item, chosen by its time, never #room itself.
COPY_EPOCHS = [NOW_MS + d for d in range(10)] + [0, 7, 1700000000999]


@pytest.mark.parametrize("route", list(ROUTES))
def test_the_room_copy_follows_the_request_time(route):
    for epoch in COPY_EPOCHS:
        request = {"headers": {"Cookie": f"bk_token={T1}"}, "query": {"token": T1}, "requestTimeEpoch": epoch}
        assert requested_keys(render(ROUTES[route][0], request)) == [room_copy(epoch), T1]


@needs_java
def test_the_room_copy_follows_the_request_time_on_java_velocity():
    jobs = [(ROUTES[r][0], {"headers": {"Cookie": f"bk_token={T1}"}, "query": {"token": T1},
                            "requestTimeEpoch": e}, "") for r in ROUTES for e in COPY_EPOCHS]
    for (_, request, _), rendered in zip(jobs, java_render(jobs)):
        assert requested_keys(rendered["body"]) == [room_copy(request["requestTimeEpoch"]), T1]


@pytest.mark.parametrize("cookie", HOSTILE_COOKIES, ids=range(len(HOSTILE_COOKIES)))
def test_hostile_cookie_headers_give_valid_json_and_only_validated_keys(cookie):
    request = {"headers": {"Cookie": cookie}, "query": {}, "requestTimeEpoch": NOW_MS}
    keys = requested_keys(render("poll-request.vtl", request))
    assert keys == expected_keys("/poll", request)
    assert all(k in COPIES or TOKEN.fullmatch(k) for k in keys)
    request = {"headers": {}, "query": {"token": cookie}, "requestTimeEpoch": NOW_MS}
    keys = requested_keys(render("client-check-request.vtl", request))
    assert keys == expected_keys("/client-check", request)


@needs_java
def test_hostile_inputs_on_java_velocity():
    jobs = []
    for c in HOSTILE_COOKIES:
        jobs.append(("poll-request.vtl", {"headers": {"Cookie": c}, "query": {}, "requestTimeEpoch": NOW_MS}, ""))
        jobs.append(("client-check-request.vtl", {"headers": {}, "query": {"token": c}, "requestTimeEpoch": NOW_MS}, ""))
    for (name, req, _), rendered in zip(jobs, java_render(jobs)):
        route = "/poll" if name.startswith("poll") else "/client-check"
        assert requested_keys(rendered["body"]) == expected_keys(route, req), (name, req)


DESTINATIONS = [
    "https://shop.example.com/drop",
    "https://shop.example.com/a?x=1",
    "https://shop.example.com/it's",
    'https://shop.example.com/"quoted"',
    "https://shop.example.com/back\\slash\\",
    "https://shop.example.com/zürich/東京/🐝",
    "https://shop.example.com/</script><script>alert(1)</script>",
    "https://shop.example.com/$input.body/#set($x=1)/${token}",
    "https://shop.example.com/tab\there/nl\nhere/ctl\u0001\u007f",
    "https://shop.example.com/\u2028\u2029",
    "https://shop.example.com/''\"\"\\\\//",
]


def odd_cases():
    for dest in DESTINATIONS:
        for is_open in (True, False):
            items = [room_item(open={"BOOL": is_open}, destination={"S": dest}), token_item()]
            for cookie in ("", f"bk_token={T1}"):
                yield {"headers": {"Cookie": cookie}, "query": {}, "requestTimeEpoch": NOW_MS}, items


ODD_CASES = list(odd_cases())


@pytest.mark.parametrize("request_,items", ODD_CASES, ids=range(len(ODD_CASES)))
def test_destinations_needing_escapes_round_trip(request_, items):
    _, answers = through_templates("/poll", request_, items)
    for got in answers:
        assert got == (200, {}, ref_body("/poll", request_, items))


@needs_java
def test_destinations_needing_escapes_on_java_velocity():
    jobs, want = [], []
    for request_, items in ODD_CASES:
        for body in batch_get_results(expected_keys("/poll", request_), items):
            jobs.append(("poll-response.vtl", request_, body))
            want.append(ref_body("/poll", request_, items))
    for rendered, body in zip(java_render(jobs), want):
        assert java_answer(rendered, 200) == (200, {}, body), rendered


# DynamoDB answers the templates never expect; the body must still be JSON with the contract's fields, or
# busy when the room item was not read (fail closed: never "paused", never "allowed").
ODD_RESULTS = {
    "throttled": {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                  "message": "Rate exceeded"},
    "empty-object": {},
    "no-items": {"Responses": {TABLE: []}, "UnprocessedKeys": {}},
    "unprocessed": {"Responses": {}, "UnprocessedKeys": {TABLE: {"Keys": [{"pk": {"S": room_copy(NOW_MS)}}]}}},
    "unprocessed-token-only": {"Responses": {TABLE: [room_item()]},
                               "UnprocessedKeys": {TABLE: {"Keys": [{"pk": {"S": T1}}]}}},
    "unprocessed-other-table-only": {"Responses": {TABLE: [room_item()]},
                                     "UnprocessedKeys": {"another-table": {"Keys": [{"pk": {"S": T1}}]}}},
    "unprocessed-not-a-list": {"Responses": {TABLE: [room_item()]}, "UnprocessedKeys": {TABLE: {"Keys": "x"}}},
    "room-without-fields": {"Responses": {TABLE: [{"pk": {"S": room_copy(NOW_MS)}}]}},
    # Only the room item itself, which the templates never ask for: its copy was not read, so busy.
    "room-item-not-a-copy": {"Responses": {TABLE: [room_item(pk={"S": ROOM}), token_item()]}},
    "odd-numbers": {"Responses": {TABLE: [room_item(rate={"N": "1.5"}, released_total={"N": "-3"}),
                                          token_item(expires_at=0) | {"expires_at": {"N": "1e99"}}]}},
    "token-without-expiry": {"Responses": {TABLE: [room_item(), {"pk": {"S": T1}}]}},
    "wrong-types": {"Responses": {TABLE: [room_item(open={"S": "true"}, rate={"S": "9"}, destination={"N": "1"}),
                                          {"pk": {"S": T1}, "expires_at": {"S": "9999999999"}}]}},
    "empty-destination": {"Responses": {TABLE: [room_item(open={"BOOL": False}, destination={"S": ""}),
                                                token_item()]}},
}


BUSY_RESULTS = {"throttled", "empty-object", "unprocessed", "no-items", "unprocessed-token-only",
                "unprocessed-not-a-list", "room-item-not-a-copy",
                # No BOOL `open`: read as closed it would let everyone in, so no answer but busy.
                "room-without-fields", "wrong-types"}


@pytest.mark.parametrize("kind", list(ODD_RESULTS))
@pytest.mark.parametrize("route", list(ROUTES))
def test_odd_dynamodb_results_still_give_contract_json(route, kind):
    request = {"headers": {"Cookie": f"bk_token={T1}"}, "query": {"token": T1}, "requestTimeEpoch": NOW_MS}
    rendered, over = render_with_overrides(ROUTES[route][1], request, json.dumps(ODD_RESULTS[kind]), response=True)
    status, headers, body = answer(rendered, over, 200)
    if kind in BUSY_RESULTS:
        assert (status, headers, body) == (503, BUSY_HEADERS, BUSY)
        return
    assert (status, headers) == (200, {}) and set(body) == BODY_KEYS[route]
    if route == "/poll":
        assert isinstance(body["admitted"], bool) and isinstance(body["open"], bool)
        assert isinstance(body["expired"], bool)
        assert type(body["rate"]) is int and type(body["releasedTotal"]) is int
        assert body["redirect"] is None or isinstance(body["redirect"], str)
    else:
        assert isinstance(body["allowed"], bool) and isinstance(body["open"], bool)
        assert body["expiresAt"] is None or type(body["expiresAt"]) is int


@needs_java
def test_odd_dynamodb_results_on_java_velocity():
    request = {"headers": {"Cookie": f"bk_token={T1}"}, "query": {"token": T1}, "requestTimeEpoch": NOW_MS}
    jobs = [(ROUTES[r][1], request, json.dumps(b)) for r in ROUTES for b in ODD_RESULTS.values()]
    for (name, _, body), rendered in zip(jobs, java_render(jobs)):
        want = answer(*render_with_overrides(name, request, body, response=True), 200)
        assert java_answer(rendered, 200) == want, (name, body)


def test_unavailable_template_is_the_busy_answer_on_both_engines():
    """The 503 integration response (DynamoDB errors) says busy with Retry-After on either engine."""
    request = {"headers": {}, "query": {}, "requestTimeEpoch": NOW_MS}
    error = json.dumps(ODD_RESULTS["throttled"])
    assert answer(*render_with_overrides(UNAVAILABLE, request, error, response=True), 503) == (
        503, BUSY_HEADERS, BUSY)
    if java_available():
        assert java_answer(java_render([(UNAVAILABLE, request, error)])[0], 503) == (503, BUSY_HEADERS, BUSY)


@pytest.mark.parametrize("name", sorted(n for pair in ROUTES.values() for n in pair))
def test_template_opens_with_a_why_comment_and_names_the_table_once(name):
    text = (TEMPLATE_DIR / name).read_text(encoding="utf-8")
    assert text.startswith("## Why: ")
    assert text.count("__TABLE__") == 1
    assert "\t" not in text.replace("\\t", "")
