"""Deterministic demo data for the pretix organiser ``ecccn``.

Everything derives from ``random.Random(seed)`` and fixed reference dates, never the wall clock,
so two generations with the same seed are identical. What it yields (default seed):

* 252 first-phase events (meta ``phase`` "1", 2019-01 .. 2025-06) touching exactly the 97
  countries of :data:`simulator.countries.PHASE1_COUNTRIES` (hosts, beneficiaries and
  participants together), 13,100 .. 13,900 checked-in attendances;
* 38 .. 42 second-phase events (2025-07 .. 2026-10), mostly with Indo-Pacific focus countries;
* 2 events in test mode (their orders too) that every figure must exclude;
* event meta ``experts`` (0-4 ``;``-separated expert codes, e.g. "E0042;E0107") and
  ``organisers`` (1-2 stakeholder codes, LAC4's for LAC4-delivered events), drawn from the
  registry demo files' codes (:mod:`simulator.registry_files`, its default seed) among those
  who had joined by the event's start, on a random stream of their own so every other draw is
  unchanged;
* ``bad_records`` extra orders on first-phase events whose ``code`` (and their positions'
  ``order``) is missing, each with one checked-in position: a broken partner record consumers
  must quarantine. They are not part of the figures above.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from simulator import countries
from simulator.pretix_events import EventPlanner, checkin_list
from simulator.pretix_model import Order
from simulator.pretix_orders import OrderGenerator
from simulator.pretix_organiser import DEFAULT_SEED, ORGANIZER, TIMEZONE, TZ
from simulator.pretix_people import People
from simulator.pretix_staff import add_staff, registry_roster
from simulator.pretix_zones import finish

# The public entry point: the generator's parts live in pretix_organiser, pretix_people,
# pretix_events, pretix_orders and pretix_staff.
__all__ = [
    "DEFAULT_SEED",
    "ORGANIZER",
    "TIMEZONE",
    "TZ",
    "PretixDataset",
    "generate",
    "phase1_figures",
]

# The registry rosters the events' staff is drawn from (the registry mart tests compare with them).
_registry_roster = registry_roster


@dataclass
class PretixDataset:
    """The organiser's events (pretix records), check-in lists (by event slug) and orders."""

    organizer: str
    seed: int
    events: list[dict[str, Any]]
    checkin_lists: dict[str, list[dict[str, Any]]]  # the first is the entry list
    orders: list[Order]


def generate(seed: int = DEFAULT_SEED, bad_records: int = 1) -> PretixDataset:
    """Generate the demo organiser's data; identical output for identical arguments."""
    rng = random.Random(seed)  # one stream for people, events and orders, drawn in this order
    people = People(rng)
    planner = EventPlanner(rng, people)
    registrations = OrderGenerator(rng, people)
    phase1 = planner.phase1_plans()
    for number, plan in enumerate(phase1):
        year = plan.start.year
        rank = sum(1 for p in phase1[:number] if p.start.year == year) + 1
        plan.slug = f"p1-{year}-{rank:03d}"
    phase2 = planner.phase2_plans()
    for number, plan in enumerate(phase2, start=1):
        plan.slug = f"p2-{plan.start.year}-{number:03d}"
    tests = planner.test_plans()
    plans = phase1 + phase2 + tests

    events = [planner.render_event(plan) for plan in plans]
    add_staff(events, plans, random.Random(f"{seed}:staff"))
    lists = {plan.slug: checkin_list(number) for number, plan in enumerate(plans, start=1)}
    orders: list[Order] = []
    for plan in sorted(plans, key=lambda p: p.start):  # returning people attend later events
        orders += registrations.event_orders(plan, lists[plan.slug]["id"])
    orders += registrations.bad_orders(phase1, lists, bad_records)
    # zones, day lists, check-ins touching orders: applied after every draw (pretix_zones)
    return PretixDataset(ORGANIZER, seed, events, finish(plans, events, orders, lists), orders)


def phase1_figures(dataset: PretixDataset) -> dict[str, int]:
    """The headline phase-1 figures as the pipeline should compute them from this data."""
    phase1 = {e["slug"]: e for e in dataset.events if e["meta_data"]["phase"] == "1" and not e["testmode"]}
    attendances = 0
    participants: set[str] = set()
    spellings: list[str] = []
    for event in phase1.values():
        meta = event["meta_data"]
        spellings += [meta["host_country"], *meta["beneficiary_countries"].split(";")]
    for order in dataset.orders:
        if order.code is None or order.testmode or order.status == "c":
            continue
        if order.event not in phase1:
            continue
        for position in order.positions:
            if position.canceled or not any(c.type == "entry" for c in position.checkins):
                continue
            attendances += 1
            participants.add(position.person.email)
            spellings.append(position.country_answer)
    iso_codes = set(countries.to_iso2(sorted(set(spellings))))
    return {
        "events": len(phase1),
        "attendances": attendances,
        "participants": len(participants),
        "countries": len(iso_codes),
    }
