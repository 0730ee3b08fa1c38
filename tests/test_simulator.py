"""The partner-system simulator over real HTTP: pretix shapes, pagination, filters, figures."""

from __future__ import annotations

import json
import re
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


# pretix 2026.8.0's answers, measured on a real server (../shared/SOURCES.md "Measured on real servers")


def test_auth_required_with_pretix_own_messages(sim: SimulatorHandle) -> None:
    url = f"{sim.pretix_url}organizers/{ORG}/events/"
    for headers, detail in (
        ({}, "Authentication credentials were not provided."),
        ({"Authorization": "Token wrong"}, "Invalid token."),
    ):
        response = requests.get(url, headers=headers, timeout=10)
        assert (response.status_code, response.json()) == (401, {"detail": detail})


def test_unknown_route_is_django_html_404_and_unknown_event_is_403(sim: SimulatorHandle) -> None:
    response = requests.get(f"{sim.pretix_url}nothing/here/", headers=AUTH, timeout=10)
    assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/html")
    for path in (
        "events/no-such-event/",
        "events/no-such-event/orders/",
        "events/no-such-event/checkinlists/",
    ):
        unknown = requests.get(f"{sim.pretix_url}organizers/{ORG}/{path}", headers=AUTH, timeout=10)
        assert unknown.status_code == 403
        assert unknown.json() == {"detail": "You do not have permission to perform this action."}


def test_bad_modified_since_is_a_field_error(sim: SimulatorHandle) -> None:
    url = f"{sim.pretix_url}organizers/{ORG}/orders/"
    response = requests.get(url, headers=AUTH, params={"modified_since": "yesterday"}, timeout=10)
    assert (response.status_code, response.json()) == (400, {"modified_since": ["Enter a valid date/time."]})


def test_page_size_is_capped_to_50(sim: SimulatorHandle) -> None:
    page = get(f"{sim.pretix_url}organizers/{ORG}/orders/", page_size=200)
    assert len(page["results"]) == 50 and page["count"] > 50


def test_timestamps_are_utc_z_and_event_dates_utc_with_their_zone(sim: SimulatorHandle) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
    orders = get(f"{sim.pretix_url}organizers/{ORG}/orders/", page_size=50)["results"]
    assert all(stamp.match(o["last_modified"]) and stamp.match(o["datetime"]) for o in orders)
    events = walk(f"{sim.pretix_url}organizers/{ORG}/events/")
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", e["date_from"]) for e in events)
    far = {e["timezone"] for e in events} - {"Europe/Brussels"}
    assert far == {"Pacific/Auckland", "Pacific/Honolulu"}
    for event in events:  # each starts at its planned local wall-clock hour, in its own zone
        local = datetime.fromisoformat(event["date_from"]).astimezone(ZoneInfo(event["timezone"]))
        assert local.hour in (9, 14), event["slug"]
    auckland = next(e for e in events if e["timezone"] == "Pacific/Auckland")
    assert auckland["date_from"][11:13] in ("20", "21")  # 09:00 local is the evening before in UTC


def test_positions_on_each_list_carry_that_lists_checkins_and_orders_carry_all(sim) -> None:
    events = walk(f"{sim.pretix_url}organizers/{ORG}/events/")
    multi = [e for e in events if e["date_from"][:10] != e["date_to"][:10] and not e["testmode"]]
    event = multi[0]
    base = f"{sim.pretix_url}organizers/{ORG}/events/{event['slug']}/checkinlists/"
    lists = get(base)["results"]
    assert len(lists) == 2 and [cl["include_pending"] for cl in lists] == [False, True]
    by_list = {cl["id"]: walk(f"{base}{cl['id']}/positions/", has_checkin="true") for cl in lists}
    for list_id, positions in by_list.items():
        assert all(c["list"] == list_id for p in positions for c in p["checkins"])
    orders = walk(f"{sim.pretix_url}organizers/{ORG}/events/{event['slug']}/orders/")
    in_orders = {c["id"] for o in orders for p in o["positions"] for c in p["checkins"]}
    on_lists = {c["id"] for positions in by_list.values() for p in positions for c in p["checkins"]}
    assert in_orders == on_lists and in_orders


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
        seen: set[int] = set()  # a position is on every list it was scanned on
        for checkin_list in get(base)["results"]:
            positions = walk(f"{base}{checkin_list['id']}/positions/", has_checkin="true", page_size=1000)
            for position in positions:
                if "order" not in position or position["id"] in seen:  # the broken record: quarantined
                    continue
                if not any(c["type"] == "entry" for c in position["checkins"]):
                    continue  # only an exit scan on this list
                seen.add(position["id"])
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


def test_a_checkin_touches_its_order_and_generated_orders_are_touched_too(fresh_sim) -> None:
    orders = walk(f"{fresh_sim.pretix_url}organizers/{ORG}/orders/")
    for generated in orders:  # Checkin.save() touches the order: never modified before a scan
        scans = [c["datetime"] for p in generated["positions"] for c in p["checkins"]]
        assert not scans or max(scans) <= generated["last_modified"], generated.get("code")
    order = next(
        o for o in orders if o["status"] == "p" and o["positions"] and not o["positions"][0]["checkins"]
    )
    response = requests.post(f"{fresh_sim.base_url}/_sim/pretix/orders/{order['code']}/checkin", timeout=10)
    assert response.status_code == 200
    after = get(_order_url(fresh_sim, order))
    assert after["last_modified"] > order["last_modified"]
    assert [c["type"] for c in after["positions"][0]["checkins"]] == ["entry"]
    assert after["last_modified"] == after["positions"][0]["checkins"][0]["datetime"]


def test_a_pending_order_is_scanned_only_on_a_list_that_includes_pending(fresh_sim) -> None:
    orders = walk(f"{fresh_sim.pretix_url}organizers/{ORG}/orders/", status="n")
    lists_of = {}
    for order in orders:
        base = f"{fresh_sim.pretix_url}organizers/{ORG}/events/{order['event']}/checkinlists/"
        lists_of[order["code"]] = get(base)["results"]
    order = next(o for o in orders if len(lists_of[o["code"]]) == 2)
    entry, later = lists_of[order["code"]]
    scan = f"{fresh_sim.base_url}/_sim/pretix/orders/{order['code']}/checkin"
    assert requests.post(scan, json={"list": entry["id"]}, timeout=10).status_code == 400
    assert requests.post(scan, json={"list": later["id"]}, timeout=10).status_code == 200
    base = f"{fresh_sim.pretix_url}organizers/{ORG}/events/{order['event']}/checkinlists/"
    on_entry = walk(f"{base}{entry['id']}/positions/")
    on_later = walk(f"{base}{later['id']}/positions/", has_checkin="true")
    assert order["code"] not in {p["order"] for p in on_entry if "order" in p}
    assert order["code"] in {p["order"] for p in on_later if "order" in p}


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


def _data_request(query: dict | None, sort: dict | None) -> Any:
    from simulator.http_app import Request

    given = (("query", query), ("sort", sort))
    args = {name: [json.dumps(value)] for name, value in given if value is not None}
    return Request(method="GET", path="/", query=args, headers={}, body=b"", client_host="127.0.0.1")


@pytest.mark.parametrize(
    ("query", "sort"),
    [
        (None, {"_id": 1}),  # the extractor's first page: the bisection
        ({"_id": {"$gt": 7}}, {"_id": 1}),  # its next pages: the bisection
        ({"_id": {"$gt": 7.5}}, {"_id": 1}),
        ({"_id": {"$gt": 99}}, {"_id": 1}),
        ({"_id": {"$gt": "7"}}, {"_id": 1}),  # Mongo never compares a string with a number
        ({"_id": {"$gt": 7}, "_submission_time": {"$gte": "2026-01-03"}}, {"_id": 1}),
        ({"_id": {"$gt": 7}}, {"_id": -1}),
        ({"_id": {"$gte": 7}}, None),
    ],
)
def test_kobo_data_query_answers_as_mongo_would(query: dict | None, sort: dict | None) -> None:
    """The data endpoint's bisection for the extractor's `_id` walk answers exactly what filtering
    and sorting every submission answers (and stands aside for any other query)."""
    from simulator.kobo_api_query import matches, query_submissions

    submissions = [{"_id": i, "_submission_time": f"2026-01-{i % 28 + 1:02d}"} for i in range(1, 40, 2)]
    expected = [s for s in submissions if matches(s, query or {})]
    expected.sort(key=lambda s: s["_id"], reverse=sort == {"_id": -1})
    assert list(query_submissions(_data_request(query, sort), submissions)) == expected
    shuffled = submissions[::-1]  # not in _id order: the general path, the same answer
    assert list(query_submissions(_data_request(query, sort), shuffled)) == expected


def test_list_tail_is_the_list_from_its_start() -> None:
    from simulator.http_app import ListTail

    items = list(range(10))
    for start in (0, 3, 10, 12):
        tail = ListTail(items, start)
        assert len(tail) == len(items[start:])
        assert tail[1:4] == items[start:][1:4] and list(tail) == items[start:]
        if tail:
            assert tail[0] == items[start] and tail[-1] == items[-1]
        with pytest.raises(IndexError):
            tail[len(tail)]
