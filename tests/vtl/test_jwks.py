# Why: the JWKS is rendered by API Gateway from the table's #jwks item (crates/core/src/vtl/jwks-*.vtl), so
# a retired key leaves it the second its last pass has expired, with nothing to republish it (issue 23).
# These run the very templates on both engines (LocalStack's renderer and Java Velocity 1.7) against a
# reference model: which keys are listed when, that hostile or broken items still give valid JSON with only
# well-formed keys, and that anything short of a full read answers 503 busy, never cached.
import json

import pytest

from test_templates import (
    TABLE, answer, java_answer, java_render, needs_java, render, render_with_overrides,
)

REQUEST, RESPONSE = "jwks-request.vtl", "jwks-response.vtl"
NOW_MS = 1_700_000_000_000
NOW = NOW_MS // 1000
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
BUSY = (503, {"Retry-After": "5", "Cache-Control": "no-store"}, {"error": "busy", "retryAfter": 5})


def coord(seed: int) -> str:
    return "".join(B64[(seed * 7 + i * 13) % 64] for i in range(43))


def key(kid: str, until=None, over=None) -> dict:
    m = {"kid": {"S": kid}, "x": {"S": coord(len(kid))}, "y": {"S": coord(len(kid) + 1)}}
    if until is not None:
        m["until"] = {"N": str(until)}
    m.update(over or {})
    return {"M": m}


def item(*keys) -> dict:
    return {"pk": {"S": "#jwks"}, "published": {"L": list(keys)}, "updated_at": {"N": str(NOW - 60)}}


def model(items: list, unprocessed: bool = False) -> tuple:
    """The contract: every key without `until`, or with `until` after now, whose kid, x and y are
    well-formed, in the item's order; 503 busy when the item or its list is missing or the read partial."""
    found = [i for i in items if i.get("pk", {}).get("S") == "#jwks" and "L" in i.get("published", {})]
    if unprocessed or not found:
        return BUSY
    out = []
    for k in found[0]["published"]["L"]:
        m = k.get("M", {})
        kid, x, y = (m.get(f, {}).get("S", "") for f in ("kid", "x", "y"))
        until = m.get("until", {}).get("N")
        live = until is None or (until.isdigit() and until[0] != "0" and len(until) <= 15 and int(until) > NOW)
        ok = (0 < len(kid) <= 64 and all(c in B64 for c in kid) and len(x) == 43 and all(c in B64 for c in x)
              and len(y) == 43 and all(c in B64 for c in y))
        if live and ok:
            out.append({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid, "x": x, "y": y})
    return 200, {}, {"keys": out}


def result(items: list, unprocessed: bool = False) -> str:
    left = {TABLE: {"Keys": [{"pk": {"S": "#jwks"}}]}} if unprocessed else {}
    return json.dumps({"Responses": {TABLE: items}, "UnprocessedKeys": left})


CASES = {
    "only the key in use": ([item(key("current"))], False),
    "a retired key still verifying passes is listed after the current one": (
        [item(key("current"), key("retired", NOW + 1))], False),
    "a retired key leaves the second its until passes": (
        [item(key("current"), key("gone", NOW), key("stays", NOW + 600))], False),
    "an until that is not digits leaves the key out": (
        [item(key("current"), key("odd", None, {"until": {"N": "1e99"}}), key("neg", None, {"until": {"N": "-1"}}))], False),
    "a kid or coordinate that could break the JSON is left out": (
        [item(key('a"b'), key("ok"), key("short", None, {"x": {"S": "abc"}}), key("bad", None, {"y": {"S": '"' * 43}}),
              key("x" * 65), {"S": "not a map"})], False),
    "keys of a wrong type are left out": ([item(key("n", None, {"kid": {"N": "5"}}), key("fine"))], False),
    "an empty list publishes no key": ([item()], False),
    "no JWKS item is busy, not an empty set": ([], False),
    "an item without a key list is busy": ([{"pk": {"S": "#jwks"}}], False),
    "a list of the wrong type is busy": ([{"pk": {"S": "#jwks"}, "published": {"S": "[]"}}], False),
    "an unprocessed read is busy": ([], True),
    "another item is not the JWKS": ([{"pk": {"S": "#room"}, "published": {"L": [key("room")]}}], False),
}


def test_the_request_reads_only_the_jwks_item():
    body = json.loads(render(REQUEST, {"requestTimeEpoch": NOW_MS}))
    assert body == {"RequestItems": {TABLE: {"Keys": [{"pk": {"S": "#jwks"}}]}}}


def test_every_case_has_something_to_say():
    statuses = {model(*c)[0] for c in CASES.values()}
    assert statuses == {200, 503}
    # The cases that list keys list some and leave some out, so neither rule can pass by accident.
    listed = [len(model(*c)[2]["keys"]) for c in CASES.values() if model(*c)[0] == 200]
    assert 0 in listed and max(listed) >= 2


@pytest.mark.parametrize("name", list(CASES))
def test_localstack_renderer_agrees_with_the_model(name):
    items, unprocessed = CASES[name]
    rendered, over = render_with_overrides(RESPONSE, {"requestTimeEpoch": NOW_MS}, result(items, unprocessed),
                                           response=True)
    assert answer(rendered, over, 200) == model(items, unprocessed), rendered


@needs_java
def test_java_velocity_agrees_with_the_model():
    names = list(CASES)
    jobs = [(RESPONSE, {"requestTimeEpoch": NOW_MS}, result(*CASES[n])) for n in names]
    for name, rendered in zip(names, java_render(jobs)):
        assert java_answer(rendered, 200) == model(*CASES[name]), (name, rendered["body"])


@needs_java
def test_a_key_is_listed_up_to_its_until_and_not_after_on_java_velocity():
    ring = [item(key("current"), key("retired", NOW + 30))]
    jobs = [(RESPONSE, {"requestTimeEpoch": NOW_MS + dt}, result(ring)) for dt in (0, 29_999, 30_000, 90_000)]
    kids = [[k["kid"] for k in java_answer(r, 200)[2]["keys"]] for r in java_render(jobs)]
    assert kids == [["current", "retired"], ["current", "retired"], ["current"], ["current"]]
