"""The partner-system simulator over real HTTP: pretix shapes, pagination, filters, figures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from simulator import pretix_data
from simulator.countries import converter
from simulator.pretix_model import render_order
from simulator.server import DEMO_PRETIX_TOKEN, SimulatorHandle, start_simulator

ORG = "ecccn"
AUTH = {"Authorization": f"Token {DEMO_PRETIX_TOKEN}"}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator(port=0) as handle:
        yield handle


@pytest.fixture
def fresh_sim() -> Iterator[SimulatorHandle]:
    """A simulator of its own for tests that mutate data."""
    with start_simulator(port=0) as handle:
        yield handle


def get(url: str, **params: Any) -> dict[str, Any]:
    response = requests.get(url, headers=AUTH, params=params, timeout=30)
    response.raise_for_status()
    return response.json()


def walk(url: str, **params: Any) -> list[dict[str, Any]]:
    """Follow ``next`` links to the end, as an extractor does."""
    page = get(url, **params)
    results = list(page["results"])
    while page["next"]:
        page = get(page["next"])
        results += page["results"]
    return results


def test_auth_required(sim: SimulatorHandle) -> None:
    url = f"{sim.pretix_url}organizers/{ORG}/events/"
    for headers in ({}, {"Authorization": "Token wrong"}):
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid token."}


def test_unknown_route_is_json_404(sim: SimulatorHandle) -> None:
    response = requests.get(f"{sim.pretix_url}nothing/here/", headers=AUTH, timeout=10)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_pagination_walk(sim: SimulatorHandle) -> None:
    url = f"{sim.pretix_url}organizers/{ORG}/events/"
    first = get(url, page_size=40)
    assert first["previous"] is None
    assert first["next"].startswith(f"{sim.base_url}/pretix/api/v1/")
    page, seen = first, list(first["results"])
    while page["next"]:
        page = get(page["next"])
        seen += page["results"]
    assert page["next"] is None and page["previous"]
    assert len(seen) == first["count"] == len({e["slug"] for e in seen})
    assert get(url)["results"] == seen[:50]  # default page size 50
    missing = requests.get(url, headers=AUTH, params={"page": 999}, timeout=10)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Invalid page."}


def test_modified_since(sim: SimulatorHandle) -> None:
    url = f"{sim.pretix_url}organizers/{ORG}/orders/"
    since = "2025-01-01T00:00:00+00:00"
    recent = walk(url, modified_since=since, ordering="last_modified", page_size=1000)
    stamps = [o["last_modified"] for o in recent]
    assert recent and all(s >= since for s in stamps)  # all generated stamps are in UTC
    assert stamps == sorted(stamps)
    everything = walk(url, page_size=1000)
    assert len(recent) == sum(o["last_modified"] >= since for o in everything)
    assert len(recent) < len(everything)


def test_phase1_figures(sim: SimulatorHandle) -> None:
    events = walk(f"{sim.pretix_url}organizers/{ORG}/events/", page_size=1000)
    assert len([e for e in events if e["testmode"]]) == 2
    phase1 = [e for e in events if e["meta_data"]["phase"] == "1" and not e["testmode"]]
    assert len(phase1) == 252
    spellings: set[str] = set()
    attendances = 0
    for event in phase1:
        meta = event["meta_data"]
        spellings |= {meta["host_country"], *meta["beneficiary_countries"].split(";")}
        base = f"{sim.pretix_url}organizers/{ORG}/events/{event['slug']}/checkinlists/"
        for checkin_list in get(base)["results"]:
            positions = walk(f"{base}{checkin_list['id']}/positions/", has_checkin="true", page_size=1000)
            for position in positions:
                if "order" not in position:  # the broken record: quarantined downstream
                    continue
                assert any(c["type"] == "entry" for c in position["checkins"])
                attendances += 1
                answers = {a["question_identifier"]: a for a in position["answers"]}
                spellings.add(answers["country"]["answer"])
    assert 13_100 <= attendances <= 13_900
    iso2 = converter().convert(sorted(spellings), to="ISO2", not_found=None)
    assert None not in iso2
    assert len(set(iso2)) == 97


def test_bad_record_has_no_code(sim: SimulatorHandle) -> None:
    orders = walk(f"{sim.pretix_url}organizers/{ORG}/orders/", page_size=1000)
    broken = [o for o in orders if "code" not in o]
    assert len(broken) == 1
    assert broken[0]["event"].startswith("p1-")
    assert broken[0]["positions"][0]["checkins"]


def test_generation_is_deterministic() -> None:
    def dump(dataset: pretix_data.PretixDataset) -> str:
        orders = [render_order(o, organizer=ORG, base_url="") for o in dataset.orders]
        return json.dumps([dataset.events, dataset.checkin_lists, orders], sort_keys=True)

    assert dump(pretix_data.generate(seed=7)) == dump(pretix_data.generate(seed=7))
    assert dump(pretix_data.generate(seed=7)) != dump(pretix_data.generate(seed=8))


def _order_url(sim: SimulatorHandle, order: dict[str, Any]) -> str:
    return f"{sim.pretix_url}organizers/{ORG}/events/{order['event']}/orders/{order['code']}/"


def test_control_checkin_keeps_last_modified(fresh_sim: SimulatorHandle) -> None:
    orders = get(f"{fresh_sim.pretix_url}organizers/{ORG}/orders/", page_size=1000)["results"]
    order = next(o for o in orders if o["status"] == "p" and not o["positions"][0]["checkins"])
    response = requests.post(f"{fresh_sim.base_url}/_sim/pretix/orders/{order['code']}/checkin", timeout=10)
    assert response.status_code == 200
    after = get(_order_url(fresh_sim, order))
    assert after["last_modified"] == order["last_modified"]
    assert [c["type"] for c in after["positions"][0]["checkins"]] == ["entry"]


def test_control_cancel_and_create_bump_last_modified(fresh_sim: SimulatorHandle) -> None:
    orders_url = f"{fresh_sim.pretix_url}organizers/{ORG}/orders/"
    newest = get(orders_url, ordering="-last_modified", page_size=1)["results"][0]
    order = get(orders_url, status="p")["results"][0]

    cancelled = requests.post(
        f"{fresh_sim.base_url}/_sim/pretix/orders/{order['code']}/cancel", timeout=10
    ).json()
    assert cancelled["status"] == "c"
    assert cancelled["last_modified"] > newest["last_modified"]

    created = requests.post(
        f"{fresh_sim.base_url}/_sim/pretix/orders",
        json={
            "event": newest["event"],
            "email": "new.person@example.org",
            "name": "New Person",
            "country": "Viet Nam",
        },
        timeout=10,
    )
    assert created.status_code == 201
    assert created.json()["positions"][0]["country"] == "VN"

    changed = walk(orders_url, modified_since=newest["last_modified"], ordering="last_modified")
    codes = [o["code"] for o in changed if o["last_modified"] > newest["last_modified"]]
    assert codes == [order["code"], created.json()["code"]]
