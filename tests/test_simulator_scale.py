"""The simulator's scale knob: N replicas of the programme, ids unique, surveys consistent, 1x unchanged."""

from __future__ import annotations

import argparse
import hashlib
import json

import pytest
import requests

from simulator import kobo_data, limesurvey_data, pretix_data
from simulator.pretix_model import render_order
from simulator.server import DEMO_PRETIX_TOKEN, _scale, start_simulator

ORG = "ecccn"
# sha256 of the default 1x pretix data (events, check-in lists, rendered orders) before the knob:
# scale 1 must stay this to the byte (the landed-data digests of tests/test_lean_extract.py hang on it)
ONE_X_DIGEST = "e799e6130f309753"


def _dump(events: list, lists: dict, orders: list) -> str:
    rendered = [render_order(o, organizer=ORG, base_url="") for o in orders]
    return json.dumps([events, lists, rendered], sort_keys=True, default=str)


@pytest.fixture(scope="module")
def one() -> pretix_data.PretixDataset:
    return pretix_data.generate()


@pytest.fixture(scope="module")
def two() -> pretix_data.PretixDataset:
    return pretix_data.generate(scale=2)


def test_scale_one_is_the_demo_as_it_was(one: pretix_data.PretixDataset) -> None:
    digest = hashlib.sha256(_dump(one.events, one.checkin_lists, one.orders).encode()).hexdigest()
    assert digest[:16] == ONE_X_DIGEST
    assert pretix_data.phase1_figures(one) == {
        "events": 252,
        "attendances": 13_414,
        "participants": 10_212,
        "countries": 97,
    }


def test_replica_zero_of_a_scaled_programme_is_scale_one(one, two) -> None:
    events, orders = len(one.events), len(one.orders)
    lists = {slug: two.checkin_lists[slug] for slug in one.checkin_lists}
    assert _dump(two.events[:events], lists, two.orders[:orders]) == _dump(
        one.events, one.checkin_lists, one.orders
    )


def test_scale_two_is_twice_the_programme_with_unique_ids(one, two) -> None:
    figures, doubled = pretix_data.phase1_figures(one), pretix_data.phase1_figures(two)
    assert doubled["events"] == 2 * figures["events"]
    assert doubled["countries"] == figures["countries"] == 97
    for name in ("attendances", "participants"):
        assert 1.9 * figures[name] <= doubled[name] <= 2.1 * figures[name], name
    assert 1.9 * len(one.orders) <= len(two.orders) <= 2.1 * len(one.orders)
    slugs = [e["slug"] for e in two.events]
    assert len(set(slugs)) == len(slugs) and set(two.checkin_lists) == set(slugs)
    assert {o.event for o in two.orders} <= set(slugs)
    codes = [o.code for o in two.orders if o.code is not None]
    positions = [p for o in two.orders for p in o.positions]
    checkins = [c for p in positions for c in p.checkins]
    list_ids = [cl["id"] for lists in two.checkin_lists.values() for cl in lists]
    for ids in (codes, [p.id for p in positions], [c.id for c in checkins], list_ids):
        assert len(set(ids)) == len(ids)
    assert {c.list_id for c in checkins} <= set(list_ids)
    first = {p.person.email for p in positions[: sum(len(o.positions) for o in one.orders)]}
    later = {p.person.email for o in two.orders[len(one.orders) :] for p in o.positions}
    assert later and not first & later  # each replica has people of its own


def test_scaled_surveys_refer_to_events_and_people_that_exist(two) -> None:
    slugs = {e["slug"] for e in two.events}
    emails = {p.person.email for o in two.orders for p in o.positions}
    kobo = kobo_data.generate(two)
    submissions = [s for asset in kobo.assets for s in asset.submissions]
    ids = [s["_id"] for s in submissions]
    assert len(set(ids)) == len(ids)
    assert {s["activity/activity_code"] for s in submissions} <= slugs
    assert any(s["activity/activity_code"].startswith("r1-") for s in submissions)
    typed = {s["respondent/email"].strip().lower() for s in submissions if "respondent/email" in s}
    assert typed <= emails
    lime = limesurvey_data.generate(two)
    responses = [r for survey in lime.surveys.values() for r in survey.responses]
    codes = {(r.get("ACTIVIDAD") or r.get("ACTIVITY") or "").lower() for r in responses}
    assert codes <= slugs and any(code.startswith("r1-") for code in codes)
    assert {(r.get("CORREO") or r.get("EMAIL")).strip().lower() for r in responses} <= emails


def test_scaled_generation_is_deterministic_per_seed_and_scale(two) -> None:
    again = pretix_data.generate(scale=2)
    assert _dump(again.events, again.checkin_lists, again.orders) == _dump(
        two.events, two.checkin_lists, two.orders
    )
    other = pretix_data.generate(seed=7, scale=2)
    assert [o.code for o in other.orders] != [o.code for o in two.orders]


def test_the_server_serves_the_scale_it_was_started_with(two) -> None:
    with start_simulator(port=0, scale=2) as sim:
        health = requests.get(f"{sim.base_url}/_sim/health", timeout=10).json()
        assert health["scale"] == 2
        page = requests.get(
            f"{sim.pretix_url}organizers/{ORG}/orders/",
            headers={"Authorization": f"Token {DEMO_PRETIX_TOKEN}"},
            timeout=30,
        ).json()
        assert page["count"] == len(two.orders)
    with pytest.raises(argparse.ArgumentTypeError):
        _scale("0")
    with pytest.raises(ValueError):
        pretix_data.generate(scale=0)
