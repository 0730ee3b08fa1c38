"""The organiser's events: planning each activity (type, place, dates, size) and its pretix record."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from simulator import countries
from simulator.pretix_organiser import ORGANIZER, TIMEZONE, TZ, event_time
from simulator.pretix_people import People

PHASE1_EVENTS_PER_YEAR = {2019: 26, 2020: 31, 2021: 36, 2022: 44, 2023: 47, 2024: 46, 2025: 22}
PHASE1_END = datetime(2025, 6, 27, tzinfo=TZ)
PHASE2_START = datetime(2025, 7, 1, tzinfo=TZ)
PHASE2_END = datetime(2026, 10, 30, tzinfo=TZ)
LAC4_FROM = datetime(2023, 5, 1, tzinfo=TZ)  # LAC4 delivers activities once established
ATTENDANCE_TARGET = (13_300, 13_700)  # phase-1 total, drawn once per seed

ACTIVITY_TYPES: dict[str, tuple[int, tuple[int, int], tuple[int, int]]] = {
    # type: (weight, attendees range, duration in days range)
    "training": (30, (18, 45), (2, 5)),
    "workshop": (22, (20, 60), (1, 3)),
    "conference": (8, (80, 220), (1, 3)),
    "exercise": (8, (30, 80), (1, 2)),
    "advisory_mission": (8, (6, 18), (3, 5)),
    "study_visit": (5, (8, 16), (3, 5)),
    "webinar": (15, (60, 250), (0, 0)),
    "rapid_assistance_mission": (4, (4, 12), (2, 6)),
}
TYPE_LABELS = {
    "training": "training",
    "workshop": "workshop",
    "conference": "conference",
    "exercise": "cyber exercise",
    "advisory_mission": "advisory mission",
    "study_visit": "study visit",
    "webinar": "webinar",
    "rapid_assistance_mission": "rapid assistance mission",
}
TOPICS = (
    "Incident response",
    "Cybercrime investigation",
    "Cyber diplomacy",
    "Critical infrastructure protection",
    "National cyber strategy",
    "CSIRT maturity",
    "Threat intelligence sharing",
    "Digital forensics",
    "Cyber crisis management",
    "Election security",
)
AUDIENCES = (
    "national CSIRTs",
    "policy makers",
    "law enforcement",
    "regulators",
    "critical infrastructure operators",
    "diplomats",
)
REGION_WEIGHTS = {
    "Latin America and Caribbean": 30,
    "Africa": 22,
    "Asia and Pacific": 22,
    "Western Balkans and Türkiye": 9,
    "Eastern Partnership and Central Asia": 10,
    "Middle East": 5,
    "Global": 2,
}


@dataclass
class EventPlan:
    """An event before it is rendered: what the order generator needs to know."""

    slug: str
    phase: str
    activity_type: str
    modality: str
    region: str
    host: str
    beneficiaries: list[str]
    start: datetime
    end: datetime
    attendees: int
    testmode: bool = False
    live: bool = True


class EventPlanner:
    """Plans the phase-1, phase-2 and test-mode events and renders them as pretix event records."""

    def __init__(self, rng: random.Random, people: People) -> None:
        self.rng = rng
        self.people = people  # the country spellings organisers type

    def plan_event(
        self, phase: str, start_day: datetime, region: str, anchor: str | None = None
    ) -> EventPlan:
        rng = self.rng
        kinds = list(ACTIVITY_TYPES)
        kind = rng.choices(kinds, weights=[ACTIVITY_TYPES[k][0] for k in kinds])[0]
        _, (low, high), (min_days, max_days) = ACTIVITY_TYPES[kind]
        pool = list(countries.REGIONS[region])
        if region == "Global":
            host = anchor or rng.choice(pool)
            others = [c for c in countries.PHASE1_COUNTRIES if c not in pool]
            beneficiaries = rng.sample(others, rng.randint(2, 5))
        else:
            host = anchor if anchor and rng.random() < 0.5 else rng.choice(pool)
            count = rng.choices([1, 2, 3, 4, 5], weights=[3, 3, 2, 1, 1])[0]
            beneficiaries = rng.sample(pool, min(count, len(pool)))
            if anchor and anchor not in beneficiaries and anchor != host:
                beneficiaries[0] = anchor
            if host not in beneficiaries and rng.random() < 0.7:
                beneficiaries.insert(0, host)
            beneficiaries = list(dict.fromkeys(beneficiaries))[:5]
        online_share = {2020: 0.7, 2021: 0.4}.get(start_day.year, 0.0)  # pandemic years
        if kind == "webinar" or rng.random() < online_share:
            modality = "online"
        elif kind == "conference" and rng.random() < 0.4:
            modality = "hybrid"
        else:
            modality = rng.choices(["in_person", "hybrid", "online"], weights=[85, 8, 7])[0]
        days = rng.randint(min_days, max_days)
        start = start_day.replace(hour=14 if kind == "webinar" else 9)
        end = start + timedelta(hours=2) if kind == "webinar" else start.replace(hour=17)
        end += timedelta(days=max(days - 1, 0))
        return EventPlan(
            "", phase, kind, modality, region, host, beneficiaries, start, end, rng.randint(low, high)
        )

    def random_day(self, first: datetime, last: datetime) -> datetime:
        span = (last - first).days
        day = first + timedelta(days=self.rng.randint(0, span))
        return datetime(day.year, day.month, day.day, tzinfo=TZ)

    def phase1_plans(self) -> list[EventPlan]:
        rng = self.rng
        days: list[datetime] = []
        for year, count in PHASE1_EVENTS_PER_YEAR.items():
            first = datetime(year, 1, 8, tzinfo=TZ)
            last = PHASE1_END if year == 2025 else datetime(year, 12, 15, tzinfo=TZ)
            days += sorted(self.random_day(first, last) for _ in range(count))
        # each of the 97 countries anchors one event, so every one of them is engaged
        anchors = dict(zip(rng.sample(range(len(days)), 97), countries.PHASE1_COUNTRIES, strict=True))
        regions = list(REGION_WEIGHTS)
        plans = []
        for index, day in enumerate(days):
            anchor = anchors.get(index)
            if anchor:
                region = countries.REGION_OF[anchor]
            else:
                region = rng.choices(regions, weights=list(REGION_WEIGHTS.values()))[0]
            plans.append(self.plan_event("1", day, region, anchor))
        self.scale_attendance(plans, rng.randint(*ATTENDANCE_TARGET))
        return plans

    @staticmethod
    def scale_attendance(plans: list[EventPlan], target: int) -> None:
        """Rescale drawn attendee counts so the phase-1 total hits the drawn target exactly."""
        total = sum(p.attendees for p in plans)
        for plan in plans:
            plan.attendees = max(3, round(plan.attendees * target / total))
        difference = target - sum(p.attendees for p in plans)
        for plan in sorted(plans, key=lambda p: -p.attendees)[: abs(difference)]:
            plan.attendees += 1 if difference > 0 else -1

    def phase2_plans(self) -> list[EventPlan]:
        rng = self.rng
        plans = []
        for _ in range(rng.randint(38, 42)):
            day = self.random_day(PHASE2_START, PHASE2_END)
            if rng.random() < 0.75:  # Indo-Pacific focus
                plan = self.plan_event("2", day, "Asia and Pacific")
                plan.host = rng.choice(countries.INDO_PACIFIC_FOCUS)
                plan.beneficiaries = rng.sample(countries.INDO_PACIFIC_FOCUS, rng.randint(1, 5))
            else:
                region = rng.choices(list(REGION_WEIGHTS), weights=list(REGION_WEIGHTS.values()))
                plan = self.plan_event("2", day, region[0])
            plans.append(plan)
        return sorted(plans, key=lambda p: p.start)

    def test_plans(self) -> list[EventPlan]:
        first = self.plan_event("1", datetime(2024, 3, 4, tzinfo=TZ), "Africa")
        second = self.plan_event("2", datetime(2025, 9, 8, tzinfo=TZ), "Asia and Pacific")
        first.slug, first.testmode, first.live, first.attendees = "test-2024-001", True, False, 12
        second.slug, second.testmode, second.live, second.attendees = "test-2025-002", True, True, 9
        return [first, second]

    def render_event(self, plan: EventPlan) -> dict[str, Any]:
        rng = self.rng
        topic = rng.choice(TOPICS)
        label = TYPE_LABELS[plan.activity_type]
        name = f"{topic} {label} for {rng.choice(AUDIENCES)}"
        if plan.testmode:
            name = f"TEST - {name}"
        lac4 = plan.region == "Latin America and Caribbean" and plan.start >= LAC4_FROM
        body = "LAC4" if plan.phase == "1" and lac4 and rng.random() < 0.6 else "EU CyberNet"
        location = "Online" if plan.modality == "online" else countries.display_name(plan.host)
        return {
            "name": {"en": name},
            "slug": plan.slug,
            "live": plan.live,
            "testmode": plan.testmode,
            "currency": "EUR",
            "date_from": event_time(plan.start),  # moved to the event's own zone by pretix_zones
            "date_to": event_time(plan.end),
            "date_admission": None,
            "is_public": not plan.testmode,
            "presale_start": None,
            "presale_end": None,
            "location": {"en": location},
            "geo_lat": None,
            "geo_lon": None,
            "has_subevents": False,
            "seating_plan": None,
            "seat_category_mapping": {},
            "timezone": TIMEZONE,
            "item_meta_properties": {},
            "valid_keys": {},
            "sales_channels": ["web"],
            "public_url": f"https://tickets.example.org/{ORGANIZER}/{plan.slug}/",
            "meta_data": {
                "activity_type": plan.activity_type,
                "modality": plan.modality,
                "host_country": self.people.spell(plan.host),
                "beneficiary_countries": ";".join(self.people.spell(c) for c in plan.beneficiaries),
                "phase": plan.phase,
                "delivering_body": body,
                "region": plan.region,
            },
        }


def checkin_list(list_id: int) -> dict[str, Any]:
    """An event's single check-in list as pretix returns it."""
    return {
        "id": list_id,
        "name": "Entry",
        "all_products": True,
        "limit_products": [],
        "subevent": None,
        "include_pending": False,
        "allow_multiple_entries": True,
        "allow_entry_after_exit": True,
        "exit_all_at": None,
        "addon_match": False,
        "rules": {},
    }
