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

``scale=N`` (``engage-simulator --scale N``) serves N replicas of all this (``generate``): the
phase-1 figures are N times the above, the 97 countries stay 97, and scale 1 is the data above
to the byte. The registry demo files stay at 1x (the same expert pool and network staff more
activities).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from simulator import countries
from simulator.pretix_events import EventPlanner, checkin_list
from simulator.pretix_model import Order
from simulator.pretix_orders import CODE_ALPHABET, OrderGenerator
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


# A scaled programme's replicas (replica 1, 2, ...): the number each one's position, check-in and
# person numbers start from (replica x REPLICA_STRIDE) and its check-in list ids' stride (its
# second lists sit at +10_000 within it, pretix_zones.SECOND_LIST_OFFSET). One programme has
# ~18k positions and ~300 lists, so the ranges never meet.
REPLICA_STRIDE = 1_000_000
LIST_STRIDE = 100_000


def generate(seed: int = DEFAULT_SEED, bad_records: int = 1, scale: int = 1) -> PretixDataset:
    """Generate the demo organiser's data; identical output for identical arguments.

    ``scale`` N serves N times the programme: replica 0 is exactly the ``scale=1`` data; replica
    r >= 1 is a programme of its own, drawn from ``random.Random(f"{seed}:{r}")``, with event slugs
    prefixed ``r{r}-``, order codes suffixed with a two-letter tag, and position, check-in, list
    and person numbers in a range of its own, so every id is unique. Its events' staff come from
    the same (1x) registry files. The ``bad_records`` are in replica 0 only.
    """
    if scale < 1:
        raise ValueError(f"scale must be 1 or more (got {scale})")
    dataset = PretixDataset(ORGANIZER, seed, [], {}, [])
    for replica in range(scale):
        events, lists, orders = _programme(seed, replica, bad_records if replica == 0 else 0)
        dataset.events += events
        dataset.checkin_lists.update(lists)
        dataset.orders += orders
    return dataset


def _programme(seed: int, replica: int, bad_records: int) -> tuple[list, dict, list[Order]]:
    """One replica of the programme: its events, check-in lists by slug, and orders."""
    # one stream for people, events and orders, drawn in this order
    rng = random.Random(seed if replica == 0 else f"{seed}:{replica}")
    people = People(rng, number_offset=replica * REPLICA_STRIDE)
    planner = EventPlanner(rng, people)
    tag = "" if replica == 0 else _code_tag(replica)
    registrations = OrderGenerator(rng, people, first_id=replica * REPLICA_STRIDE + 1, code_tag=tag)
    prefix = "" if replica == 0 else f"r{replica}-"
    phase1 = planner.phase1_plans()
    for number, plan in enumerate(phase1):
        year = plan.start.year
        rank = sum(1 for p in phase1[:number] if p.start.year == year) + 1
        plan.slug = f"{prefix}p1-{year}-{rank:03d}"
    phase2 = planner.phase2_plans()
    for number, plan in enumerate(phase2, start=1):
        plan.slug = f"{prefix}p2-{plan.start.year}-{number:03d}"
    tests = planner.test_plans()
    for plan in tests:
        plan.slug = f"{prefix}{plan.slug}"
    plans = phase1 + phase2 + tests

    events = [planner.render_event(plan) for plan in plans]
    add_staff(events, plans, random.Random(f"{seed}:staff" if replica == 0 else f"{seed}:{replica}:staff"))
    first_list = replica * LIST_STRIDE
    lists = {plan.slug: checkin_list(first_list + number) for number, plan in enumerate(plans, start=1)}
    orders: list[Order] = []
    for plan in sorted(plans, key=lambda p: p.start):  # returning people attend later events
        orders += registrations.event_orders(plan, lists[plan.slug]["id"])
    orders += registrations.bad_orders(phase1, lists, bad_records)
    # zones, day lists, check-ins touching orders: applied after every draw (pretix_zones)
    return events, finish(plans, events, orders, lists), orders


def _code_tag(replica: int) -> str:
    """Two letters of pretix's code alphabet naming a replica (1 .. 783): its order codes' suffix."""
    if not 1 <= replica < len(CODE_ALPHABET) ** 2:
        raise ValueError(f"replica {replica} out of range")
    return CODE_ALPHABET[replica // len(CODE_ALPHABET)] + CODE_ALPHABET[replica % len(CODE_ALPHABET)]


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
