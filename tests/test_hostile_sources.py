"""Hostile and broken servers, through real HTTP against the simulator: each case ends in a clear
error within its bound, the token never reaches another origin, and nothing partial is landed.

One simulator serves the module; each test sets its fault plan at run time (`sim.faults = ...`,
what `PUT /_sim/faults` does) and points a real extraction at it. A second listener on 127.0.0.1
stands for "another host" and records every request it receives, with its headers.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from engage.config import load_config
from engage.extract import extract_stream
from extractors.http import ApiClient, SourceError
from extractors.http_limits import OriginRefused, Origins, strict_json
from extractors.source_config import HttpSettings
from simulator.faults import FaultPlan, FaultRule
from tests.conftest import TOKEN_ENV, write_config
from tests.scripted_server import scripted_server

KOBO_TOKEN_ENV = "ENGAGE_TEST_HOSTILE_KOBO_TOKEN"
ORDERS = r"/orders/$"
# Bounds small enough for a test, the same code paths as the defaults.
HTTP = {
    "timeout_seconds": 1.0,
    "max_retries": 2,
    "backoff_factor": 0.01,
    "response_deadline_seconds": 1.0,
    "max_response_mib": 4,
    "page_size": 50,  # pretix's own maximum
}


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    from simulator.kobo_api import DEMO_KOBO_TOKEN
    from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

    os.environ[TOKEN_ENV], os.environ[KOBO_TOKEN_ENV] = DEMO_PRETIX_TOKEN, DEMO_KOBO_TOKEN
    with start_simulator(port=0) as handle:
        yield handle


@pytest.fixture(scope="module")
def other_host() -> Iterator[dict[str, Any]]:
    """A second listener on 127.0.0.1: every request it gets, and whether it carried a token."""
    seen: list[dict[str, Any]] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
            body = b'{"count": 1, "next": null, "previous": null, "results": [{"code": "FORGED"}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield {"origin": f"http://127.0.0.1:{server.server_port}", "seen": seen}
    server.shutdown()
    server.server_close()


def _config(tmp_path: Path, sim: Any, **http: Any):
    sources = {
        "pretix_x": {
            "kind": "pretix",
            "base_url": sim.pretix_url,
            "organizer": "ecccn",
            "credentials": {"token_env": TOKEN_ENV},
            "streams": ["events", "orders"],
            "http": {**HTTP, **http},
        },
        "kobo_x": {
            "kind": "kobotoolbox",
            "base_url": sim.kobo_url,
            "credentials": {"token_env": KOBO_TOKEN_ENV},
            "streams": ["submissions"],
            "http": {**HTTP, **http},
        },
    }
    return load_config(write_config(tmp_path, sim.pretix_url, sources=sources))


def _faults(sim: Any, kind: str, pattern: str = ORDERS, **settings: Any) -> FaultPlan:
    plan = FaultPlan([FaultRule.of(pattern, 1.0, [kind])], seed=1, **settings)
    sim.faults = plan
    return plan


def _extract_fails(config: Any, source: str, stream: str, match: str) -> tuple[str, float]:
    """Run the extraction; it must fail with `match`, land nothing, and say how long it took."""
    started = time.monotonic()
    with pytest.raises(SourceError, match=match) as raised:
        extract_stream(config, source, stream)
    elapsed = time.monotonic() - started
    landed = list((config.landing_dir / source / stream).glob("batch=*"))
    assert landed == [], "a failed run must leave nothing in the landing zone"
    return str(raised.value), elapsed


@pytest.fixture(autouse=True)
def _no_faults_after(sim: Any) -> Iterator[None]:
    yield
    sim.faults = None


# -- 1. the token never leaves the source's origin ----------------------------------------------
def test_a_foreign_next_link_is_refused_and_the_other_host_never_hears_of_it(
    tmp_path, sim, other_host
) -> None:
    before = len(other_host["seen"])
    _faults(sim, "foreign_next", foreign_origin=other_host["origin"])
    message, _ = _extract_fails(
        _config(tmp_path, sim),
        "pretix_x",
        "orders",
        r"^pretix_x/orders: a `next` link leaves the source's origin",
    )
    assert f"{other_host['origin']}/pretix/api/v1/organizers/ecccn/orders/ " in message  # no query
    assert "?" not in message and "(after 3 attempts)" in message
    assert other_host["seen"][before:] == []


def test_a_redirect_to_another_host_is_refused_before_anything_is_sent(tmp_path, sim, other_host) -> None:
    before = len(other_host["seen"])
    _faults(sim, "cross_origin_redirect", foreign_origin=other_host["origin"])
    message, _ = _extract_fails(
        _config(tmp_path, sim),
        "pretix_x",
        "orders",
        r"^pretix_x/orders: a redirect leaves the source's origin",
    )
    assert "?" not in message
    assert other_host["seen"][before:] == []


def test_an_allow_listed_origin_is_followed_without_the_token(tmp_path, sim, other_host) -> None:
    """A CDN on the allow-list: the redirect is followed; requests drops the token across hosts."""
    before = len(other_host["seen"])
    _faults(sim, "cross_origin_redirect", pattern=r"/events/$", foreign_origin=other_host["origin"])
    config = _config(tmp_path, sim, extra_origins=[other_host["origin"]])
    result = extract_stream(config, "pretix_x", "events")
    assert result.records == 1  # the CDN's page
    assert [r["authorization"] for r in other_host["seen"][before:]] == [None]


def test_origins_compare_scheme_host_and_port_and_refuse_a_downgrade() -> None:
    origins = Origins("https://pretix.example.org/api/v1/", ["https://cdn.example.org"])
    origins.check("https://pretix.example.org:443/api/v1/orders/?page=2", "a link")
    origins.check("https://cdn.example.org/x", "a link")
    for url, why in [
        ("http://pretix.example.org/api/v1/orders/", "downgrades https to http"),
        ("https://pretix.example.org:8443/api/v1/", "leaves the source's origin"),
        ("https://evil.example.org/api/v1/?token=x", "leaves the source's origin"),
    ]:
        with pytest.raises(OriginRefused, match=why) as raised:
            origins.check(url, "a link")
        assert "token" not in str(raised.value)


def test_a_same_origin_redirect_is_followed() -> None:
    def answer(path: str, n: int):
        if path.startswith("/old/"):
            return 301, {"Location": "/new/"}, {}
        return 200, {}, {"ok": path}

    with scripted_server(answer) as (base, seen):
        assert ApiClient("s", base).get_json("old/") == {"ok": "/new/"}
    assert seen == ["/old/", "/new/"]


# -- 2. bounded waits ---------------------------------------------------------------------------
def test_a_huge_retry_after_fails_at_once_saying_what_the_server_asked(tmp_path, sim) -> None:
    _faults(sim, "huge_retry_after")
    _, elapsed = _extract_fails(
        _config(tmp_path, sim),
        "pretix_x",
        "orders",
        r"^pretix_x/orders: the server asked to wait 1,000,000,000 s before retrying \(Retry-After: "
        r"1000000000\), more than http.max_retry_after_seconds \(300 s\)",
    )
    assert elapsed < 5


def test_a_retry_after_date_far_ahead_is_refused_too() -> None:
    far = "Fri, 01 Jan 2100 00:00:00 GMT"
    with scripted_server(lambda path, n: (503, {"Retry-After": far}, {"detail": "later"})) as (base, seen):
        with pytest.raises(SourceError, match=r"Retry-After: Fri, 01 Jan 2100"):
            ApiClient("s", base, settings=HttpSettings(max_retry_after_seconds=60)).get_json("x/")
    assert len(seen) == 1


def test_a_trickled_body_ends_at_the_response_deadline_not_per_read(tmp_path, sim) -> None:
    _faults(sim, "trickle", trickle_seconds=0.2)  # a byte every 0.2 s: no read ever times out
    _, elapsed = _extract_fails(
        _config(tmp_path, sim),
        "pretix_x",
        "orders",
        r"did not arrive in full within http.response_deadline_seconds .*\(after 3 attempts\)",
    )
    # 3 attempts x (1 s deadline + headers) + backoff; a per-read timeout would never end
    assert elapsed < 3 * (1.0 + 1.0) + 2


def test_endless_distinct_next_links_end_at_the_bound_the_count_implies(tmp_path, sim) -> None:
    _faults(sim, "endless_links", pattern=r"/events/$")
    _, elapsed = _extract_fails(
        _config(tmp_path, sim, page_size=50),
        "pretix_x",
        "events",
        r"^pretix_x/events: .*/events/: more than 22 pages for a list whose count is 293: "
        r"its `next` links do not end",
    )
    assert elapsed < 30


def test_a_list_without_count_ends_at_max_pages() -> None:
    def answer(path: str, n: int):
        return 200, {}, {"next": f"{base_url[0]}items/?page={n + 1}", "results": [{"id": n}]}

    base_url = [""]
    with scripted_server(answer) as (base, seen):
        base_url[0] = base
        client = ApiClient("s", base, settings=HttpSettings(max_pages=20))
        client.stream = "items"
        with pytest.raises(SourceError, match=r"^s/items: more than http.max_pages \(20\) pages in one run"):
            list(client.paginate("items/"))
    assert len(seen) == 20


def test_the_stream_budget_ends_a_run_that_keeps_being_slow(tmp_path, sim) -> None:
    _faults(sim, "slow", slow_seconds=1.5)
    config = _config(tmp_path, sim, stream_budget_seconds=2.0, max_retries=10)
    _, elapsed = _extract_fails(config, "pretix_x", "orders", r"http.stream_budget_seconds")
    assert elapsed < 2.0 + 1.0 + 1.0  # the budget, plus at most one read timeout in flight


# -- 2b. bounded size ---------------------------------------------------------------------------
def test_a_decompression_bomb_is_stopped_at_the_size_limit_while_streaming(tmp_path, sim) -> None:
    _faults(sim, "gzip_bomb", bomb_mib=512)  # 512 MiB of JSON whitespace behind 0.5 MiB on the wire
    tracemalloc.start()
    try:
        _extract_fails(  # generous waits: tracemalloc slows the simulator's thread too; size is tested
            _config(tmp_path, sim, timeout_seconds=15.0, response_deadline_seconds=30.0),
            "pretix_x",
            "orders",
            r"larger than http.max_response_mib \(4 MiB\) after decompression .*\(after 3 attempts\)",
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB: the body was inflated past the limit"


# -- 3. strict JSON -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("wrong_charset", r"the body is not valid utf-8"),
        ("nan", r"the JSON holds NaN"),
        ("duplicate_keys", r"the JSON repeats the key 'results' in one object"),
    ],
)
def test_an_untrustworthy_body_is_retried_then_fails_the_stream(tmp_path, sim, kind, reason) -> None:
    plan = _faults(sim, kind)
    _extract_fails(_config(tmp_path, sim), "pretix_x", "orders", rf"^pretix_x/orders: .* not JSON: {reason}")
    assert plan.injected[kind] == 3  # asked max_retries + 1 times


def test_a_later_page_that_cannot_be_trusted_lands_nothing_of_the_pages_before(tmp_path, sim) -> None:
    """KoboToolbox reads form after form: the second form's pages fail; the first's never land."""
    store = sim.stores["kobotoolbox"]
    deployed = [a.uid for a in store.dataset.assets if a.has_deployment and a.submissions]
    assert len(deployed) >= 2
    plan = _faults(sim, "nan", pattern=rf"/assets/{deployed[1]}/data/$")
    _extract_fails(_config(tmp_path, sim), "kobo_x", "submissions", r"the JSON holds NaN")
    assert plan.injected["nan"] == 3


def test_a_declared_charset_is_honoured() -> None:
    body = '{"name": "Genève"}'.encode("latin-1")
    assert strict_json(body, "application/json; charset=ISO-8859-1") == {"name": "Genève"}
    with pytest.raises(ValueError, match="not valid utf-8"):
        strict_json(body, "application/json")
    with pytest.raises(ValueError, match="Infinity"):
        strict_json(b'{"x": -Infinity}', "application/json")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"results":[],"results":[{"code":"A"}]}', "repeats the key 'results'"),
        (b'{"a":[{"k":1},{"k":1,"k":1}]}', "repeats the key 'k'"),
        (b'{"x":NaN}', "holds NaN"),
        ('{"x":"é"}'.encode("latin-1"), "not valid utf-8"),
    ],
)
def test_a_compact_body_is_held_to_the_same_rules(body: bytes, reason: str) -> None:
    """Compact UTF-8 (as DRF writes) takes the fast round-trip parse; it refuses what the strict
    parser refuses."""
    with pytest.raises(ValueError, match=reason):
        strict_json(body, "application/json")


@pytest.mark.parametrize(
    "body",
    [
        b'{"count":2,"next":null,"results":[{"code":"A","n":12345678901234567890123},{"f":1.5}]}',
        '{"name":"Genève","list":[true,false,null]}'.encode(),
        b'{"name": "Gen\\u00e8ve", "x": 1e5}\n',  # spaces and escapes: the strict parser
    ],
)
def test_a_valid_body_parses_as_the_standard_library_parses_it(body: bytes) -> None:
    import json

    assert strict_json(body, "application/json") == json.loads(body)


# -- status codes: one message each, only 401 about credentials ---------------------------------
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, r"authentication refused \(HTTP 401\) .*check the credentials"),
        (403, r"permission denied \(HTTP 403\) .*may not read this resource, or it does not exist"),
        (404, r"not found \(HTTP 404\) .*check the configured base_url"),
        (500, r"server error \(HTTP 500\) .* after every retry"),
    ],
)
def test_each_refusal_has_its_own_message(status: int, expected: str) -> None:
    with scripted_server(lambda path, n: (status, {}, {"detail": "no"})) as (base, _):
        client = ApiClient("s", base, settings=HttpSettings(max_retries=0))
        with pytest.raises(SourceError, match=expected) as raised:
            client.get_json("orders/?token=abc")
    assert ("credentials" in str(raised.value)) == (status == 401)
    assert "abc" not in str(raised.value)


# -- the fault plan at run time -----------------------------------------------------------------
def test_the_fault_plan_is_set_read_and_cleared_through_the_control_api(sim) -> None:
    control = f"{sim.base_url}/_sim/faults"
    spec = {"seed": 3, "rules": [{"pattern": "/events/$", "rate": 1.0, "kinds": ["nan"], "limit": 1}]}
    assert requests.put(control, json=spec, timeout=5).json()["active"] is True
    url = f"{sim.pretix_url}organizers/ecccn/events/"
    headers = {"Authorization": f"Token {sim.pretix_token}"}
    assert b"NaN" in requests.get(url, headers=headers, timeout=5).content
    assert b"NaN" not in requests.get(url, headers=headers, timeout=5).content  # limit: 1
    state = requests.get(control, timeout=5).json()
    assert state["report"]["by_kind"] == {"nan": 1} and state["rules"][0]["limit"] == 1
    bad = requests.put(control, json={"rules": [{"pattern": ".", "rate": 1, "kinds": ["teapot"]}]}, timeout=5)
    assert bad.status_code == 400 and "unknown kinds" in bad.json()["detail"]
    assert requests.delete(control, timeout=5).json() == {"active": False}
    assert sim.faults is None
