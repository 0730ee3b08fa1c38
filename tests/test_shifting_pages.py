"""No record lost or landed twice while the source changes under a run (item 4 of issue #10).

The simulator's `shifting_pages` fault changes the data between two page fetches the way users do
(simulator/shifting.py): a pretix order modified (it moves to the end of `ordering=last_modified`,
the order behind it slides onto the page already read), a KoboToolbox submission deleted (every
`start` offset behind it shifts), a LimeSurvey response added and one deleted. Each test runs the
real extraction through it and compares what landed with the simulator's own store afterwards.
Page-number or offset paging fails these tests (a key of the store is missing from landing).
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from engage.config import load_config
from engage.extract import extract_stream
from engage.landing.batches import committed_manifests
from engage.warehouse.loader import load_pending
from extractors.http import SourceError
from simulator.faults import FaultPlan, FaultRule
from tests.conftest import TOKEN_ENV, write_config
from tests.scripted_server import scripted_server

KOBO_TOKEN_ENV = "ENGAGE_TEST_SHIFT_KOBO_TOKEN"
LS_USER_ENV, LS_PASSWORD_ENV = "ENGAGE_TEST_SHIFT_LS_USER", "ENGAGE_TEST_SHIFT_LS_PASSWORD"
HTTP = {"backoff_factor": 0.01, "max_retries": 2}


def _shifting(pattern: str, limit: int, methods: list[str] | None = None) -> FaultPlan:
    return FaultPlan([FaultRule.of(pattern, 0.5, ["shifting_pages"], methods=methods, limit=limit)], seed=4)


@pytest.fixture
def simulator_with() -> Iterator[Any]:
    from simulator.kobo_api import DEMO_KOBO_TOKEN
    from simulator.limesurvey_api import DEMO_LIMESURVEY_PASSWORD, DEMO_LIMESURVEY_USER
    from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

    os.environ[TOKEN_ENV], os.environ[KOBO_TOKEN_ENV] = DEMO_PRETIX_TOKEN, DEMO_KOBO_TOKEN
    os.environ[LS_USER_ENV], os.environ[LS_PASSWORD_ENV] = DEMO_LIMESURVEY_USER, DEMO_LIMESURVEY_PASSWORD
    handles = []

    def start(plan: FaultPlan) -> Any:
        handles.append(start_simulator(port=0, faults=plan))
        return handles[-1]

    yield start
    for handle in handles:
        handle.stop()


def _config(tmp_path: Path, sim: Any, **http: Any):
    sources = {
        "pretix_s": {
            "kind": "pretix",
            "base_url": sim.pretix_url,
            "organizer": "ecccn",
            "credentials": {"token_env": TOKEN_ENV},
            "streams": ["orders"],
            "http": {**HTTP, **http},
        },
        "kobo_s": {
            "kind": "kobotoolbox",
            "base_url": sim.kobo_url,
            "credentials": {"token_env": KOBO_TOKEN_ENV},
            "streams": ["submissions"],
            "http": {**HTTP, **http},
        },
        "limesurvey_s": {
            "kind": "limesurvey",
            "base_url": sim.base_url + "/limesurvey/index.php/admin/remotecontrol",
            "credentials": {"username_env": LS_USER_ENV, "password_env": LS_PASSWORD_ENV},
            "streams": ["responses"],
            "http": {**HTTP, **http},
        },
    }
    return load_config(write_config(tmp_path, sim.pretix_url, sources=sources))


def _landed(config: Any, source: str, stream: str) -> list[dict[str, Any]]:
    records = []
    for folder, manifest in committed_manifests(config.landing_dir, source, stream):
        for part in manifest.parts:
            with gzip.open(folder / part.name, "rt", encoding="utf-8") as lines:
                records.extend(json.loads(line) for line in lines)
    return records


def test_pretix_orders_modified_during_the_run_lose_no_order(tmp_path, simulator_with) -> None:
    plan = _shifting(r"/orders/$", limit=25)
    sim = simulator_with(plan)
    config = _config(tmp_path, sim, page_size=500)
    result = extract_stream(config, "pretix_s", "orders")
    assert plan.injected["shifting_pages"] >= 10  # orders moved to the end while it paged

    versions = Counter((r.get("code"), r["last_modified"]) for r in _landed(config, "pretix_s", "orders"))
    assert [v for v, n in versions.items() if n > 1] == [], "a version landed twice"
    landed = {}
    for code, modified in versions:
        landed.setdefault(code, set()).add(modified)
    store = sim.stores["pretix"]
    missing = [
        o.code for o in store.orders if o.code is not None and o.last_modified not in landed.get(o.code, ())
    ]
    assert missing == [], f"{len(missing)} orders (latest version) never landed"
    # reconciled with the first query's count, reported and kept in audit.reconciliation
    assert result.source_count == len(store.orders) and result.source_received >= result.source_count
    load_pending(config)
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        row = con.execute(
            "select source_count, source_received, is_source_shortfall, is_mismatch from audit.reconciliation"
        ).fetchone()
    assert row == (result.source_count, result.source_received, False, False)


def test_kobo_submissions_deleted_during_the_run_shift_no_page(tmp_path, simulator_with) -> None:
    plan = _shifting(r"/data/$", limit=8)
    sim = simulator_with(plan)
    config = _config(tmp_path, sim, page_size=100)
    extract_stream(config, "kobo_s", "submissions")
    assert plan.injected["shifting_pages"] == 8

    keys = Counter((r["_xform_id_string"], r["_id"]) for r in _landed(config, "kobo_s", "submissions"))
    assert [k for k, n in keys.items() if n > 1] == [], "a submission landed twice"
    store = sim.stores["kobotoolbox"]
    expected = {(a.uid, s["_id"]) for a in store.dataset.assets if a.has_deployment for s in a.submissions}
    assert expected - set(keys) == set()


def test_limesurvey_responses_added_and_deleted_during_the_run(tmp_path, simulator_with) -> None:
    plan = FaultPlan([FaultRule.of(r"/remotecontrol$", 1.0, ["shifting_pages"], limit=12)], seed=4)
    sim = simulator_with(plan)
    config = _config(tmp_path, sim, page_size=20)
    extract_stream(config, "limesurvey_s", "responses")  # deletions noted, not errors
    assert plan.injected["shifting_pages"] >= 4  # the response exports among the first 12 calls
    sim.faults = None
    extract_stream(config, "limesurvey_s", "responses")  # what was added during the first run

    keys = Counter((r["_survey_id"], r["id"]) for r in _landed(config, "limesurvey_s", "responses"))
    assert [k for k, n in keys.items() if n > 1] == [], "a response landed twice"
    store = sim.stores["limesurvey"]
    expected = {(s.sid, r["id"]) for s in store.surveys.values() if s.active == "Y" for r in s.responses}
    assert expected - set(keys) == set()


def test_a_list_delivering_less_than_its_count_fails_the_run_and_lands_nothing(tmp_path) -> None:
    def answer(path: str, n: int):
        orders = [{"code": f"A{i}", "last_modified": f"2026-01-0{i}T00:00:00Z"} for i in (1, 2, 3)]
        return 200, {}, {"count": 5, "next": None, "previous": None, "results": orders}

    with scripted_server(answer) as (base, seen):
        config = load_config(write_config(tmp_path, base))
        os.environ[TOKEN_ENV] = "t0ken-for-the-test"
        with pytest.raises(SourceError, match=r"^pretix_test/orders: received 3 of the 5 records .* counts"):
            extract_stream(config, "pretix_test", "orders")
    assert len(seen) == 2  # the walk, then the count asked again (a deletion would explain it)
    assert list(config.landing_dir.glob("*/*/batch=*")) == []


def test_more_pretix_orders_at_one_instant_than_a_page_are_read_on_by_page(tmp_path) -> None:
    """The keyset bound is inclusive: five orders at one instant, pages of two, still each once."""
    from urllib.parse import parse_qs, urlsplit

    instants = ["2026-01-01T00:00:00Z"] * 5 + ["2026-01-02T00:00:00Z"] * 3
    orders = [{"code": f"C{i}", "last_modified": at} for i, at in enumerate(instants)]

    def answer(path: str, n: int):
        query = {k: v[-1] for k, v in parse_qs(urlsplit(path).query).items()}
        since = query.get("modified_since", "")
        matching = [o for o in orders if o["last_modified"] >= since]
        page, size = int(query.get("page", "1")), int(query["page_size"])
        more = page * size < len(matching)
        rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "page")
        link = f"{base[0]}pretix/api/v1/organizers/ecccn/orders/?{rest}&page={page + 1}" if more else None
        return (
            200,
            {},
            {"count": len(matching), "next": link, "results": matching[(page - 1) * size :][:size]},
        )

    base = [""]
    with scripted_server(answer) as (url, _):
        base[0] = url
        source = {
            "kind": "pretix",
            "base_url": url + "pretix/api/v1/",
            "organizer": "ecccn",
            "credentials": {"token_env": TOKEN_ENV},
            "streams": ["orders"],
            "http": {"page_size": 2},
        }
        config = load_config(write_config(tmp_path, url, sources={"pretix_test": source}))
        os.environ[TOKEN_ENV] = "t0ken-for-the-test"
        result = extract_stream(config, "pretix_test", "orders")
    codes = Counter(r["code"] for r in _landed(config, "pretix_test", "orders"))
    assert codes == Counter({o["code"]: 1 for o in orders})
    assert result.source_count == 8 and result.source_received == 8
