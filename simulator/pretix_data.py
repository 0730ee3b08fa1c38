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
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulator import countries, registry_files
from simulator.pretix_model import Checkin, Order, Person, Position

ORGANIZER = "ecccn"
DEFAULT_SEED = 2019
TIMEZONE = "Europe/Brussels"
TZ = ZoneInfo(TIMEZONE)

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
GENDER_WEIGHTS = {"female": 40, "male": 56, "other": 1, "undisclosed": 3}
FEMALE_NAMES = (
    "Maria",
    "Ana",
    "Sofia",
    "Amina",
    "Fatima",
    "Grace",
    "Aisha",
    "Nadia",
    "Elena",
    "Olena",
    "Mei",
    "Siti",
    "Nguyen",
    "Priya",
    "Leila",
    "Carmen",
    "Lucia",
    "Daniela",
    "Ioana",
    "Marta",
    "Esther",
    "Joy",
    "Chloe",
    "Hana",
    "Yuki",
    "Ayesha",
    "Lina",
    "Camila",
    "Valentina",
    "Rosa",
)
MALE_NAMES = (
    "Juan",
    "Carlos",
    "Luis",
    "Ahmed",
    "Mohamed",
    "Samuel",
    "David",
    "Ivan",
    "Andriy",
    "Arben",
    "Minh",
    "Budi",
    "Rizal",
    "Raj",
    "Omar",
    "Jose",
    "Diego",
    "Mateo",
    "Petar",
    "Nikola",
    "Kofi",
    "John",
    "Daniel",
    "Kenji",
    "Bilal",
    "Tariq",
    "Rafael",
    "Pablo",
    "Emeka",
    "Tomas",
)
FAMILY_NAMES = (
    "Garcia",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Santos",
    "Silva",
    "Perez",
    "Mensah",
    "Okafor",
    "Diallo",
    "Mwangi",
    "Haddad",
    "Khan",
    "Rahman",
    "Tran",
    "Pham",
    "Santoso",
    "Wijaya",
    "Reyes",
    "Cruz",
    "Bautista",
    "Kovac",
    "Petrovic",
    "Hoxha",
    "Shevchenko",
    "Popescu",
    "Tanaka",
    "Kim",
    "Singh",
    "Naidoo",
    "Ndlovu",
    "Banda",
    "Phiri",
    "Tembo",
    "Ali",
    "Hassan",
    "Ibrahim",
    "Rossi",
    "Smith",
    "Brown",
    "Chen",
    "Wong",
    "Lim",
    "Tan",
    "Morales",
)
ORG_TEMPLATES: dict[str, tuple[str, ...]] = {
    "csirt": ("CERT-{iso2}", "National CSIRT of {name}"),
    "ministry": (
        "Ministry of ICT of {name}",
        "Ministry of Foreign Affairs of {name}",
        "Ministry of Interior of {name}",
    ),
    "law_enforcement": ("{name} National Police Cybercrime Unit", "Public Prosecutor of {name}"),
    "regulator": ("{name} Telecommunications Regulatory Authority", "{name} Central Bank"),
    "academia": ("University of {name}", "{name} Institute of Technology"),
    "private_sector": ("{name} Telecom", "{name} Power Company"),
    "civil_society": ("{name} Digital Rights Foundation",),
    "eu_institution": ("EU Delegation to {name}",),
    "other": ("{name} Chamber of Commerce",),
}
REGIONAL_ORGANISATIONS = {
    "Latin America and Caribbean": ("Organization of American States", "CARICOM IMPACS"),
    "Africa": ("African Union Commission", "ECOWAS Commission"),
    "Asia and Pacific": ("ASEAN Secretariat", "Pacific Islands Forum Secretariat"),
    "Western Balkans and Türkiye": ("Regional Cooperation Council",),
    "Eastern Partnership and Central Asia": ("OSCE Secretariat",),
    "Middle East": ("GCC Secretariat",),
    "Global": ("Global Forum on Cyber Expertise",),
}
LAC4_NAME = "LAC4 - Latin America and Caribbean Cyber Competence Centre"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ3789"  # pretix's order code alphabet


@dataclass
class PretixDataset:
    """The organiser's events (pretix records), check-in lists (by event slug) and orders."""

    organizer: str
    seed: int
    events: list[dict[str, Any]]
    checkin_lists: dict[str, dict[str, Any]]
    orders: list[Order]


@dataclass
class _Plan:
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


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.spellings = countries.spellings()
        self.persons: list[Person] = []
        self.persons_by_country: dict[str, list[Person]] = {}
        self.orgs_by_country: dict[str, list[tuple[str, str]]] = {}
        self.codes: set[str] = set()
        self.next_position = 1
        self.next_checkin = 1

    # -- small helpers ------------------------------------------------------------------
    def spell(self, iso2: str) -> str:
        """A spelling as an organiser or attendee would type it: mostly names, some codes."""
        options = self.spellings[iso2]
        names, codes = options[:-2], options[-2:]
        if self.rng.random() < 0.7:
            return names[0] if self.rng.random() < 0.6 else self.rng.choice(names)
        return codes[0] if self.rng.random() < 0.65 else codes[1]

    def code(self) -> str:
        while True:
            code = "".join(self.rng.choices(CODE_ALPHABET, k=5))
            if code not in self.codes:
                self.codes.add(code)
                return code

    def organisations(self, iso2: str) -> list[tuple[str, str]]:
        """A country's organisations (name, sector), created once per country."""
        if iso2 not in self.orgs_by_country:
            name = countries.display_name(iso2)
            region = countries.REGION_OF[iso2]
            orgs = [
                (template.format(iso2=iso2, name=name), "csirt")
                for template in ORG_TEMPLATES["csirt"][: 1 + self.rng.randrange(2)]
            ]
            for sector in self.rng.sample(sorted(ORG_TEMPLATES), 5):
                if sector != "csirt":
                    template = self.rng.choice(ORG_TEMPLATES[sector])
                    orgs.append((template.format(iso2=iso2, name=name), sector))
            orgs.append((self.rng.choice(REGIONAL_ORGANISATIONS[region]), "regional_organisation"))
            if region == "Latin America and Caribbean":
                orgs.append((LAC4_NAME, "competence_centre"))
            self.orgs_by_country[iso2] = orgs
        return self.orgs_by_country[iso2]

    def new_person(self, iso2: str) -> Person:
        rng = self.rng
        gender = rng.choices(list(GENDER_WEIGHTS), weights=list(GENDER_WEIGHTS.values()))[0]
        if gender == "female" or (gender not in ("male", "female") and rng.random() < 0.5):
            given = rng.choice(FEMALE_NAMES)
        else:
            given = rng.choice(MALE_NAMES)
        family = rng.choice(FAMILY_NAMES)
        organisation, sector = rng.choice(self.organisations(iso2))
        number = len(self.persons) + 1
        email = f"{given}.{family}{number}@example.org".lower()
        person = Person(given, family, email, iso2, organisation, sector, gender)
        self.persons.append(person)
        self.persons_by_country.setdefault(iso2, []).append(person)
        return person

    def pick_person(self, iso2: str, taken: set[str], reuse: float) -> Person:
        """A returning participant from that country (if any fits) or a new one."""
        known = self.persons_by_country.get(iso2)
        if known and self.rng.random() < reuse:
            for _ in range(3):
                person = self.rng.choice(known)
                if person.email not in taken:
                    return person
        return self.new_person(iso2)

    # -- events -------------------------------------------------------------------------
    def plan_event(self, phase: str, start_day: datetime, region: str, anchor: str | None = None) -> _Plan:
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
        return _Plan(
            "", phase, kind, modality, region, host, beneficiaries, start, end, rng.randint(low, high)
        )

    def random_day(self, first: datetime, last: datetime) -> datetime:
        span = (last - first).days
        day = first + timedelta(days=self.rng.randint(0, span))
        return datetime(day.year, day.month, day.day, tzinfo=TZ)

    def phase1_plans(self) -> list[_Plan]:
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
    def scale_attendance(plans: list[_Plan], target: int) -> None:
        """Rescale drawn attendee counts so the phase-1 total hits the drawn target exactly."""
        total = sum(p.attendees for p in plans)
        for plan in plans:
            plan.attendees = max(3, round(plan.attendees * target / total))
        difference = target - sum(p.attendees for p in plans)
        for plan in sorted(plans, key=lambda p: -p.attendees)[: abs(difference)]:
            plan.attendees += 1 if difference > 0 else -1

    def phase2_plans(self) -> list[_Plan]:
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

    def test_plans(self) -> list[_Plan]:
        first = self.plan_event("1", datetime(2024, 3, 4, tzinfo=TZ), "Africa")
        second = self.plan_event("2", datetime(2025, 9, 8, tzinfo=TZ), "Asia and Pacific")
        first.slug, first.testmode, first.live, first.attendees = "test-2024-001", True, False, 12
        second.slug, second.testmode, second.live, second.attendees = "test-2025-002", True, True, 9
        return [first, second]

    def render_event(self, plan: _Plan) -> dict[str, Any]:
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
            "date_from": _iso(plan.start),
            "date_to": _iso(plan.end),
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
                "host_country": self.spell(plan.host),
                "beneficiary_countries": ";".join(self.spell(c) for c in plan.beneficiaries),
                "phase": plan.phase,
                "delivering_body": body,
                "region": plan.region,
            },
        }

    # -- orders -------------------------------------------------------------------------
    def participant_country(self, plan: _Plan) -> str:
        rng = self.rng
        local = [plan.host, *plan.beneficiaries]
        wide = plan.modality != "in_person" or plan.activity_type == "conference"
        if rng.random() < (0.55 if wide else 0.85):
            return rng.choice(local)
        if plan.region == "Global":
            return rng.choice(countries.PHASE1_COUNTRIES)
        return rng.choice(countries.REGIONS[plan.region])

    def checkin_time(self, plan: _Plan) -> datetime:
        rng = self.rng
        day = 0
        span_days = (plan.end.date() - plan.start.date()).days
        if span_days and rng.random() < 0.1:  # late arrival on a later day
            day = rng.randint(1, span_days)
        return plan.start + timedelta(days=day, minutes=rng.randint(0, 30 if day == 0 else 90))

    def add_checkins(self, plan: _Plan, position: Position, list_id: int) -> None:
        rng = self.rng
        first = self.checkin_time(plan)
        moments = [(first, "entry")]
        span_days = (plan.end.date() - first.date()).days
        if span_days and rng.random() < 0.15:  # scanned again on a later day
            later = first + timedelta(days=rng.randint(1, span_days))
            moments.append((min(later, plan.end - timedelta(minutes=30)), "entry"))
        if rng.random() < 0.03:
            moments.append((plan.end - timedelta(minutes=rng.randint(0, 45)), "exit"))
        for moment, kind in moments:
            position.checkins.append(Checkin(self.next_checkin, list_id, _iso(moment), kind))
            self.next_checkin += 1

    def new_position(self, positionid: int, person: Person) -> Position:
        position = Position(self.next_position, positionid, person, self.spell(person.iso2))
        self.next_position += 1
        return position

    def order_times(self, plan: _Plan, status: str) -> tuple[str, str]:
        rng = self.rng
        placed = plan.start.astimezone(UTC) - timedelta(
            days=rng.randint(3, 45), seconds=rng.randint(0, 86_399)
        )
        if status == "c":
            modified = placed + (plan.start.astimezone(UTC) - placed) * rng.random()
        elif status == "e":
            modified = placed + timedelta(days=14)
        else:  # last touched close to the event (attendee data edited, payment confirmed)
            modified = plan.start.astimezone(UTC) - timedelta(seconds=rng.randint(0, 7 * 86_400))
            modified = max(modified, placed)
        return _iso(placed), _iso(modified)

    def event_orders(self, plan: _Plan, list_id: int) -> list[Order]:
        rng = self.rng
        attended = plan.attendees
        no_shows = round(attended * rng.uniform(0.07, 0.10))
        slots = [True] * attended + [False] * no_shows
        rng.shuffle(slots)
        taken: set[str] = set()
        reuse = 0.0 if plan.testmode else 0.3

        def person_for(iso2: str | None = None) -> Person:
            person = self.pick_person(iso2 or self.participant_country(plan), taken, reuse)
            taken.add(person.email)
            return person

        orders: list[Order] = []
        index = 0
        while index < len(slots):
            size = 2 if index + 1 < len(slots) and rng.random() < 0.05 else 1
            buyer = person_for()
            positions = []
            for offset in range(size):
                person = buyer if offset == 0 else person_for(buyer.iso2)
                position = self.new_position(offset + 1, person)
                if slots[index + offset]:
                    self.add_checkins(plan, position, list_id)
                elif offset and rng.random() < 0.3:
                    position.canceled = True  # a colleague removed from the order
                positions.append(position)
            placed, modified = self.order_times(plan, "p")
            orders.append(
                Order(self.code(), plan.slug, "p", plan.testmode, placed, modified, buyer, positions)
            )
            index += size
        # registrations that never turn into attendance: canceled, pending, expired
        extra = len(orders)
        statuses = ["c"] * round(extra * 0.03) + ["n"] * round(extra * 0.015)
        statuses += ["e"] * round(extra * 0.005)
        for status in statuses:
            buyer = person_for()
            placed, modified = self.order_times(plan, status)
            orders.append(
                Order(
                    self.code(),
                    plan.slug,
                    status,
                    plan.testmode,
                    placed,
                    modified,
                    buyer,
                    [self.new_position(1, buyer)],
                )
            )
        return orders

    def bad_orders(self, plans: list[_Plan], lists: dict[str, dict], count: int) -> list[Order]:
        """Orders without a code: a broken partner record, with one checked-in position."""
        result = []
        for _ in range(count):
            plan = self.rng.choice(plans)
            buyer = self.new_person(self.participant_country(plan))
            position = self.new_position(1, buyer)
            self.add_checkins(plan, position, lists[plan.slug]["id"])
            placed, modified = self.order_times(plan, "p")
            result.append(Order(None, plan.slug, "p", False, placed, modified, buyer, [position]))
        return result


def _checkin_list(list_id: int) -> dict[str, Any]:
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


def generate(seed: int = DEFAULT_SEED, bad_records: int = 1) -> PretixDataset:
    """Generate the demo organiser's data; identical output for identical arguments."""
    gen = _Generator(seed)
    phase1 = gen.phase1_plans()
    for number, plan in enumerate(phase1):
        year = plan.start.year
        rank = sum(1 for p in phase1[:number] if p.start.year == year) + 1
        plan.slug = f"p1-{year}-{rank:03d}"
    phase2 = gen.phase2_plans()
    for number, plan in enumerate(phase2, start=1):
        plan.slug = f"p2-{plan.start.year}-{number:03d}"
    tests = gen.test_plans()
    plans = phase1 + phase2 + tests

    events = [gen.render_event(plan) for plan in plans]
    _add_staff(events, plans, random.Random(f"{seed}:staff"))
    lists = {plan.slug: _checkin_list(number) for number, plan in enumerate(plans, start=1)}
    orders: list[Order] = []
    for plan in sorted(plans, key=lambda p: p.start):  # returning people attend later events
        orders += gen.event_orders(plan, lists[plan.slug]["id"])
    orders += gen.bad_orders(phase1, lists, bad_records)
    return PretixDataset(ORGANIZER, seed, events, lists, orders)


def _registry_roster() -> tuple[dict[str, date], list[tuple[str, str, date, str]]]:
    """Expert codes with their joined dates, and stakeholders as (code, iso2, joined date, name), as the
    registry demo files (default seed) hold them: rows the registry extractor quarantines are left out."""

    def parse(value: object) -> date | None:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        for layout in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
            try:
                return datetime.strptime(str(value), layout).date()
            except ValueError:
                continue
        return None

    rng = random.Random(registry_files.DEFAULT_SEED)
    xlsx_rows, csv_rows = registry_files._experts(rng)
    experts: dict[str, date] = {}
    for row in [*xlsx_rows, *csv_rows]:
        joined = parse(row[6])
        if row[0] and joined and row[0] not in experts:
            experts[str(row[0])] = joined
    rows, organisations = registry_files._stakeholders(rng)
    stakeholders = []
    for row in rows:
        code, joined = str(row[0]), parse(row[4])
        number = int(code[1:]) if code[1:].isdigit() else 0
        if joined and 1 <= number <= len(organisations):
            name, iso2 = organisations[number - 1]
            stakeholders.append((code, iso2, joined, name))
    return experts, stakeholders


def _add_staff(events: list[dict[str, Any]], plans: list[_Plan], rng: random.Random) -> None:
    """Add the ``experts`` and ``organisers`` meta properties, drawn from ``rng`` only."""
    experts, stakeholders = _registry_roster()
    lac4 = [code for code, _, _, name in stakeholders if name.startswith("LAC4")]
    for event, plan in zip(events, plans, strict=True):
        day = plan.start.date()
        pool = sorted(code for code, joined in experts.items() if joined <= day)
        count = min(len(pool), rng.choices((0, 1, 2, 3, 4), weights=(15, 30, 30, 15, 10))[0])
        deployed = sorted(rng.sample(pool, count))
        joined_by = [s for s in stakeholders if s[2] <= day] or stakeholders
        where = {plan.host, *plan.beneficiaries}
        local = [code for code, iso2, _, _ in joined_by if iso2 in where]
        organisers = lac4[:1] if event["meta_data"]["delivering_body"] == "LAC4" else []
        for _ in range(rng.choices((1, 2), weights=(60, 40))[0] - len(organisers)):
            options = [c for c in (local or [s[0] for s in joined_by]) if c not in organisers]
            organisers.append(rng.choice(options or [s[0] for s in joined_by]))
        event["meta_data"]["experts"] = ";".join(deployed)
        event["meta_data"]["organisers"] = ";".join(dict.fromkeys(organisers))


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
