"""The events' orders, their positions and check-ins, including the deliberately broken orders."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from simulator import countries
from simulator.pretix_events import EventPlan
from simulator.pretix_model import Checkin, Order, Person, Position
from simulator.pretix_organiser import iso_time
from simulator.pretix_people import People

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ3789"  # pretix's order code alphabet


class OrderGenerator:
    """Registers attendees for planned events: order codes, position and check-in ids, times."""

    def __init__(self, rng: random.Random, people: People, first_id: int = 1, code_tag: str = "") -> None:
        """``first_id``: the first position and check-in id; ``code_tag``: appended to every order
        code (a scaled programme's replicas: ids and codes clear of every other replica's)."""
        self.rng = rng
        self.people = people
        self.codes: set[str] = set()
        self.code_tag = code_tag
        self.next_position = first_id
        self.next_checkin = first_id

    def code(self) -> str:
        while True:
            code = "".join(self.rng.choices(CODE_ALPHABET, k=5)) + self.code_tag
            if code not in self.codes:
                self.codes.add(code)
                return code

    def participant_country(self, plan: EventPlan) -> str:
        rng = self.rng
        local = [plan.host, *plan.beneficiaries]
        wide = plan.modality != "in_person" or plan.activity_type == "conference"
        if rng.random() < (0.55 if wide else 0.85):
            return rng.choice(local)
        if plan.region == "Global":
            return rng.choice(countries.PHASE1_COUNTRIES)
        return rng.choice(countries.REGIONS[plan.region])

    def checkin_time(self, plan: EventPlan) -> datetime:
        rng = self.rng
        day = 0
        span_days = (plan.end.date() - plan.start.date()).days
        if span_days and rng.random() < 0.1:  # late arrival on a later day
            day = rng.randint(1, span_days)
        return plan.start + timedelta(days=day, minutes=rng.randint(0, 30 if day == 0 else 90))

    def add_checkins(self, plan: EventPlan, position: Position, list_id: int) -> None:
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
            position.checkins.append(Checkin(self.next_checkin, list_id, iso_time(moment), kind))
            self.next_checkin += 1

    def new_position(self, positionid: int, person: Person) -> Position:
        position = Position(self.next_position, positionid, person, self.people.spell(person.iso2))
        self.next_position += 1
        return position

    def order_times(self, plan: EventPlan, status: str) -> tuple[str, str]:
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
        return iso_time(placed), iso_time(modified)

    def event_orders(self, plan: EventPlan, list_id: int) -> list[Order]:
        rng = self.rng
        attended = plan.attendees
        no_shows = round(attended * rng.uniform(0.07, 0.10))
        slots = [True] * attended + [False] * no_shows
        rng.shuffle(slots)
        taken: set[str] = set()
        reuse = 0.0 if plan.testmode else 0.3

        def person_for(iso2: str | None = None) -> Person:
            person = self.people.pick_person(iso2 or self.participant_country(plan), taken, reuse)
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

    def bad_orders(self, plans: list[EventPlan], lists: dict[str, dict], count: int) -> list[Order]:
        """Orders without a code: a broken partner record, with one checked-in position."""
        result = []
        for _ in range(count):
            plan = self.rng.choice(plans)
            buyer = self.people.new_person(self.participant_country(plan))
            position = self.new_position(1, buyer)
            self.add_checkins(plan, position, lists[plan.slug]["id"])
            placed, modified = self.order_times(plan, "p")
            result.append(Order(None, plan.slug, "p", False, placed, modified, buyer, [position]))
        return result
