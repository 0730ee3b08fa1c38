"""Seed and change a real pretix through its own Django models (run with pretix's own Python).

    PRETIX_CONFIG_FILE=... PRETIX_CONFORMANCE_TOKEN=... <pretix venv>/bin/python pretix_seed.py seed
    ... pretix_seed.py change

Not part of the project's environment: this file imports pretix and Django, which only the
conformance venv has (tests/conformance/pretix_server.py builds it). It prints one JSON object on
stdout (order codes by label, check-in list ids), never the API token, which it reads from the
environment. The scenario below is the seeded truth that tests/conformance/test_pretix.py asserts;
change both together.

Each order is written as pretix writes one: inside a database transaction that ends with
`order.create_transactions()`; expiry and cancellation go through pretix's own services, and a
check-in is `Checkin.objects.create` (which touches the order, as a scan does).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pretix.settings")
os.environ.setdefault("PRETIX_DIRTY_TRANSACTIONS_QUIET", "false")  # a missed create_transactions fails

import django

django.setup()

from django.db import transaction  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402
from i18nfield.strings import LazyI18nString  # noqa: E402
from pretix.base.models import (  # noqa: E402
    Checkin,
    CheckinList,
    Event,
    EventMetaProperty,
    EventMetaValue,
    Item,
    Order,
    OrderPosition,
    Organizer,
    Question,
    QuestionAnswer,
    QuestionOption,
    Team,
    TeamAPIToken,
)
from pretix.base.services.orders import _cancel_order, mark_order_expired  # noqa: E402

ORGANIZER = "ecccn"  # the organiser slug the repository's configuration reads
META_KEYS = ("activity_type", "modality", "host_country", "beneficiary_countries", "phase")
META_KEYS += ("delivering_body", "region")
SECTORS = ("csirt", "ministry", "law_enforcement", "regulator", "academia", "private_sector", "other")
GENDERS = ("female", "male", "other", "undisclosed")

# slug -> (name, timezone, local start, local end, testmode, meta, check-in lists (name, include_pending))
EVENTS = {
    "cf-bru-2026": (
        "Incident response workshop",
        "Europe/Brussels",
        datetime(2026, 6, 15, 9, 0),
        datetime(2026, 6, 16, 17, 0),
        False,
        {"activity_type": "workshop", "modality": "in_person", "host_country": "Kenya"}
        | {"beneficiary_countries": "KE;Uganda", "phase": "1", "region": "Africa"}
        | {"delivering_body": "EU CyberNet"},
        (("Entry", False), ("Later days", True)),
    ),
    # 09:00 on New Year's Day in Auckland is 20:00Z on 31 December
    "cf-akl-2027": (
        "Cyber crisis management training",
        "Pacific/Auckland",
        datetime(2027, 1, 1, 9, 0),
        datetime(2027, 1, 2, 17, 0),
        False,
        {"activity_type": "training", "modality": "in_person", "host_country": "Fiji"}
        | {"beneficiary_countries": "FJ;Samoa", "phase": "2", "region": "Asia and Pacific"},
        (("Entry", False),),
    ),
    # 18:00 on New Year's Eve in Honolulu is 04:00Z on 1 January
    "cf-hnl-2026": (
        "Threat intelligence sharing webinar",
        "Pacific/Honolulu",
        datetime(2026, 12, 31, 18, 0),
        datetime(2026, 12, 31, 20, 0),
        False,
        {"activity_type": "webinar", "modality": "online", "host_country": "Samoa"}
        | {"beneficiary_countries": "WS;Tonga", "phase": "2", "region": "Asia and Pacific"},
        (("Entry", False),),
    ),
    "cf-test-2026": (
        "TEST - rehearsal",
        "Europe/Brussels",
        datetime(2026, 5, 4, 9, 0),
        datetime(2026, 5, 4, 17, 0),
        True,
        {"activity_type": "training", "modality": "in_person", "host_country": "Kenya", "phase": "1"},
        (("Entry", False),),
    ),
}

# A check-in: (list index, type, local day offset from the start day, "HH:MM").
# An order: label -> (event, status, testmode, positions); a position: (person label, country,
# canceled, check-ins). The person label is also the organisation answer (kept, scrubbed free
# text), and `<label>@conformance.example` the attendee email (pseudonymised by the extractor).
ORDERS = {
    "A": ("cf-bru-2026", "p", False, [("A", "Kenya", False, [(0, "entry", 0, "08:45")])]),
    "B": (
        "cf-bru-2026",
        "p",
        False,
        [("B", "Uganda", False, [(0, "entry", 0, "08:50"), (0, "exit", 0, "17:05")])],
    ),
    "C": ("cf-bru-2026", "p", False, [("C", "Kenya", False, [(0, "exit", 0, "17:10")])]),
    "D": ("cf-bru-2026", "n", False, [("D", "Uganda", False, [(1, "entry", 1, "08:40")])]),
    "E": ("cf-bru-2026", "e", False, [("E", "Kenya", False, [])]),
    "F": ("cf-bru-2026", "c", False, [("F", "Kenya", False, [(0, "entry", 0, "08:55")])]),
    "G": (
        "cf-bru-2026",
        "p",
        False,
        [
            ("G", "Uganda", False, [(0, "entry", 0, "08:41")]),
            ("G2", "Kenya", True, [(0, "entry", 0, "09:00")]),
        ],
    ),
    "H": ("cf-bru-2026", "p", False, [("H", "Kenya", False, [(1, "entry", 1, "08:30")])]),
    "I": (
        "cf-bru-2026",
        "p",
        False,
        [("I", "Uganda", False, [(0, "entry", 0, "08:40"), (1, "entry", 1, "08:35")])],
    ),
    "J": ("cf-bru-2026", "n", False, [("J", "Kenya", False, [])]),
    "K": ("cf-bru-2026", "p", True, [("K", "Kenya", False, [(0, "entry", 0, "08:42")])]),
    "P1": ("cf-akl-2027", "p", False, [("P1", "Fiji", False, [(0, "entry", 0, "08:50")])]),
    "P2": ("cf-akl-2027", "p", False, [("P2", "Samoa", False, [])]),
    "Q1": ("cf-hnl-2026", "p", False, [("Q1", "Tonga", False, [(0, "entry", 0, "17:55")])]),
    "T1": ("cf-test-2026", "p", False, [("T1", "Kenya", False, [(0, "entry", 0, "08:50")])]),
}

# Registrations without a scan, so that the orders take two pages (pretix's max_page_size is 50).
FILLERS = tuple(f"X{n:02d}" for n in range(1, 61))
ORDERS |= {label: ("cf-bru-2026", "p", False, [(label, "Kenya", False, [])]) for label in FILLERS}

# The second round: a new scan for a pending order on the include_pending list and for a paid
# order, a cancellation, and a reverted (deleted) scan. Exactly these orders are touched.
NEW_SCANS = {"J": (1, "entry", 1, "08:33"), "P2": (0, "entry", 0, "09:10")}
CANCEL = ("A",)
REVERT = ("H",)


def local(event: Event, day: int, hhmm: str) -> datetime:
    zone = ZoneInfo(event.settings.timezone)
    start = event.date_from.astimezone(zone)
    hour, minute = (int(part) for part in hhmm.split(":"))
    return (start + timedelta(days=day)).replace(hour=hour, minute=minute, second=0, microsecond=0)


def i18n(text: str) -> LazyI18nString:
    return LazyI18nString({"en": text})


def seed(token: str) -> dict:
    organizer = Organizer.objects.create(name="EU CyberNet conformance", slug=ORGANIZER)
    team = Team.objects.create(
        organizer=organizer,
        name="Data engineering",
        all_events=True,
        all_event_permissions=True,
        all_organizer_permissions=True,
    )
    TeamAPIToken.objects.create(team=team, name="engage conformance", token=token)
    properties = {key: EventMetaProperty.objects.create(organizer=organizer, name=key) for key in META_KEYS}

    lists: dict[str, list[int]] = {}
    for slug, (name, zone, start, end, testmode, meta, list_specs) in EVENTS.items():
        tz = ZoneInfo(zone)
        event = Event.objects.create(
            organizer=organizer,
            name=i18n(name),
            slug=slug,
            currency="EUR",
            date_from=start.replace(tzinfo=tz),
            date_to=end.replace(tzinfo=tz),
            location=i18n("Online" if meta.get("modality") == "online" else meta["host_country"]),
            live=True,
            testmode=testmode,
        )
        event.settings.timezone = zone
        for key, value in meta.items():
            EventMetaValue.objects.create(event=event, property=properties[key], value=value)
        item = Item.objects.create(event=event, name=i18n("Participant"), default_price=Decimal("0.00"))
        _questions(event, item)
        lists[slug] = [
            CheckinList.objects.create(event=event, name=list_name, include_pending=pending).pk
            for list_name, pending in list_specs
        ]

    codes = {label: _order(label, *spec) for label, spec in ORDERS.items()}
    return {"organizer": ORGANIZER, "codes": codes, "checkin_lists": lists}


def _questions(event: Event, item: Item) -> None:
    for position, (identifier, kind, options) in enumerate(
        (("country", "S", ()), ("organisation", "S", ()), ("sector", "C", SECTORS), ("gender", "C", GENDERS))
    ):
        question = Question.objects.create(
            event=event,
            question=i18n(identifier.title()),
            identifier=identifier,
            type=kind,
            position=position,
        )
        question.items.add(item)
        for option in options:
            QuestionOption.objects.create(question=question, identifier=option, answer=i18n(option))


def _order(label: str, slug: str, status: str, testmode: bool, positions: list) -> str:
    event = Event.objects.get(slug=slug)
    item = event.items.get()
    lists = list(event.checkin_lists.order_by("pk"))
    ordered_at = local(event, -20, "10:00")
    final_status = status
    with transaction.atomic():
        order = Order.objects.create(
            event=event,
            status="p" if status in ("p", "c") else "n",
            testmode=testmode,
            email=f"{label.lower()}.buyer@conformance.example",
            locale="en",
            datetime=ordered_at,
            expires=ordered_at + timedelta(days=30),
            total=Decimal("0.00"),
            sales_channel=event.organizer.sales_channels.get(identifier="web"),
        )
        canceled_positions = []
        for number, (person, country, canceled, _checkins) in enumerate(positions, start=1):
            position = OrderPosition.objects.create(
                order=order,
                item=item,
                price=Decimal("0.00"),
                positionid=number,
                attendee_name_parts={"_scheme": "full", "full_name": f"Person {person}"},
                attendee_email=f"{person.lower()}@conformance.example",
            )
            _answers(position, event, person, country, number)
            if canceled:
                canceled_positions.append(position)
        order.create_transactions(is_new=True)
    for position, spec in zip(order.all_positions.order_by("positionid"), positions, strict=True):
        for list_index, kind, day, hhmm in spec[3]:
            scanned_at = local(event, day, hhmm)
            Checkin.objects.create(position=position, list=lists[list_index], type=kind, datetime=scanned_at)
    for position in canceled_positions:  # a position canceled after its scan (a partial cancellation)
        with transaction.atomic():
            position.canceled = True
            position.save(update_fields=["canceled"])
            order.create_transactions()
    if final_status == "e":
        mark_order_expired(order)
    elif final_status == "c":
        _cancel_order(order.pk, send_mail=False)
    return order.code


def _answers(position: OrderPosition, event: Event, person: str, country: str, number: int) -> None:
    values = {
        "country": country,
        "organisation": f"Org {person}",
        "sector": SECTORS[len(person + country) % len(SECTORS)],
        "gender": GENDERS[(len(person) + number) % len(GENDERS)],
    }
    for question in event.questions.all():
        value = values[question.identifier]
        if question.type == "C":
            option = question.options.get(identifier=value)
            answer = QuestionAnswer.objects.create(
                orderposition=position, question=question, answer=str(option.answer)
            )
            answer.options.add(option)
        else:
            QuestionAnswer.objects.create(orderposition=position, question=question, answer=value)


def change() -> dict:
    organizer = Organizer.objects.get(slug=ORGANIZER)
    touched = {}
    for label, (list_index, kind, day, hhmm) in NEW_SCANS.items():
        order = _by_label(organizer, label)
        event = order.event
        checkin_list = list(event.checkin_lists.order_by("pk"))[list_index]
        Checkin.objects.create(
            position=order.positions.get(), list=checkin_list, type=kind, datetime=local(event, day, hhmm)
        )
        touched[label] = order.code
    for label in CANCEL:
        order = _by_label(organizer, label)
        _cancel_order(order.pk, send_mail=False)
        touched[label] = order.code
    for label in REVERT:
        order = _by_label(organizer, label)
        for checkin in Checkin.objects.filter(position__order=order):
            checkin.delete()
        touched[label] = order.code
    return {"touched": touched}


def _by_label(organizer: Organizer, label: str) -> Order:
    return Order.objects.get(event__organizer=organizer, email=f"{label.lower()}.buyer@conformance.example")


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    with scopes_disabled():
        if command == "seed":
            result = seed(os.environ["PRETIX_CONFORMANCE_TOKEN"])
        elif command == "change":
            result = change()
        else:
            raise SystemExit("usage: pretix_seed.py seed|change")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
