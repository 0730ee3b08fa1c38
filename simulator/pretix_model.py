"""Compact in-memory pretix records and their rendering to pretix REST API v1 shapes.

Orders are kept as small slotted objects and rendered to JSON dicts only when served, which
keeps ~16,000 orders cheap in memory and lets the control API mutate them in place.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

# Question ids are shared by all events of the demo organiser (pretix scopes them per event).
QUESTION_IDS = {"country": 1, "organisation": 2, "sector": 3, "gender": 4}

# option identifier -> (option id, answer text as shown to attendees)
SECTOR_OPTIONS: dict[str, tuple[int, str]] = {
    "csirt": (31, "National CSIRT/CERT"),
    "ministry": (32, "Ministry or government department"),
    "law_enforcement": (33, "Law enforcement or judiciary"),
    "regulator": (34, "Regulator or supervisory authority"),
    "regional_organisation": (35, "Regional or international organisation"),
    "academia": (36, "Academia or research"),
    "private_sector": (37, "Private sector"),
    "civil_society": (38, "Civil society"),
    "eu_institution": (39, "EU institution or Member State agency"),
    "competence_centre": (51, "Cyber competence centre"),
    "other": (52, "Other"),
}
GENDER_OPTIONS: dict[str, tuple[int, str]] = {
    "female": (41, "Female"),
    "male": (42, "Male"),
    "other": (43, "Other"),
    "undisclosed": (44, "Prefer not to say"),
}


@dataclass(slots=True)
class Person:
    given_name: str
    family_name: str
    email: str
    iso2: str
    organisation: str
    sector: str
    gender: str

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass(slots=True)
class Checkin:
    id: int
    list_id: int
    datetime: str
    type: str = "entry"


@dataclass(slots=True)
class Position:
    id: int
    positionid: int
    person: Person
    country_answer: str  # the spelling the attendee typed
    canceled: bool = False
    checkins: list[Checkin] = field(default_factory=list)


@dataclass(slots=True)
class Order:
    code: str | None  # None only for the deliberately broken records (bad_records)
    event: str
    status: str
    testmode: bool
    datetime: str
    last_modified: str
    person: Person  # the buyer: email and invoice address
    positions: list[Position]


def _digest(*parts: object, length: int, upper: bool = False) -> str:
    """Stable pseudo-random token (order secret, pseudonymization id) without using the rng."""
    text = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:length]
    return text.upper() if upper else text


def _answer(identifier: str, answer: str, options: dict[str, tuple[int, str]] | None = None):
    if options is None:
        return {
            "question": QUESTION_IDS[identifier],
            "question_identifier": identifier,
            "answer": answer,
            "options": [],
            "option_identifiers": [],
        }
    option_id, text = options[answer]
    return {
        "question": QUESTION_IDS[identifier],
        "question_identifier": identifier,
        "answer": text,
        "options": [option_id],
        "option_identifiers": [answer],
    }


def render_position(order: Order, position: Position, list_id: int | None = None) -> dict[str, Any]:
    """One order position as pretix serialises it (personal fields included). On a check-in list
    (``list_id``) it carries only that list's check-ins; in an order, those of every list."""
    person = position.person
    record: dict[str, Any] = {
        "id": position.id,
        "order": order.code,
        "positionid": position.positionid,
        "item": 1,
        "variation": None,
        "price": "0.00",
        "attendee_name": person.full_name,
        "attendee_name_parts": {
            "_scheme": "given_family",
            "given_name": person.given_name,
            "family_name": person.family_name,
        },
        "attendee_email": person.email,
        "company": person.organisation,
        "street": None,
        "zipcode": None,
        "city": None,
        "country": person.iso2,
        "state": None,
        "voucher": None,
        "tax_rate": "0.00",
        "tax_value": "0.00",
        "tax_rule": None,
        "secret": _digest(order.code, order.event, position.id, length=32),
        "addon_to": None,
        "subevent": None,
        "pseudonymization_id": _digest(position.id, order.event, length=10, upper=True),
        "seat": None,
        "canceled": position.canceled,
        "valid_from": None,
        "valid_until": None,
        "blocked": None,
        "checkins": [
            {
                "id": c.id,
                "list": c.list_id,
                "datetime": c.datetime,
                "type": c.type,
                "gate": None,
                "device": None,
                "auto_checked_in": False,
            }
            for c in position.checkins
            if list_id is None or c.list_id == list_id
        ],
        "downloads": [],
        "answers": [
            _answer("country", position.country_answer),
            _answer("organisation", person.organisation),
            _answer("sector", person.sector, SECTOR_OPTIONS),
            _answer("gender", person.gender, GENDER_OPTIONS),
        ],
        "pdf_data": {},
    }
    if order.code is None:  # a broken partner record: the order reference is missing too
        del record["order"]
    return record


def render_order(
    order: Order, *, organizer: str, base_url: str, include_canceled_positions: bool = False
) -> dict[str, Any]:
    """One order as pretix serialises it; canceled positions are hidden unless asked for."""
    buyer = order.person
    positions = [
        render_position(order, p) for p in order.positions if include_canceled_positions or not p.canceled
    ]
    record: dict[str, Any] = {
        "code": order.code,
        "event": order.event,
        "status": order.status,
        "testmode": order.testmode,
        "secret": _digest("order", order.code, order.event, order.datetime, length=16),
        "email": buyer.email,
        "phone": None,
        "customer": None,
        "locale": "en",
        "sales_channel": "web",
        "datetime": order.datetime,
        "expires": None,
        "payment_date": None,
        "payment_provider": "free",
        "fees": [],
        "total": "0.00",
        "comment": "",
        "api_meta": {},
        "custom_followup_at": None,
        "checkin_attention": False,
        "checkin_text": None,
        "last_modified": order.last_modified,
        "payments": [],
        "refunds": [],
        "require_approval": False,
        "valid_if_pending": False,
        "cancellation_date": order.last_modified if order.status == "c" else None,
        "url": f"{base_url}/{organizer}/{order.event}/order/{order.code}/",
        "invoice_address": {
            "is_business": True,
            "company": buyer.organisation,
            "name": buyer.full_name,
            "name_parts": {
                "_scheme": "given_family",
                "given_name": buyer.given_name,
                "family_name": buyer.family_name,
            },
            "street": "",
            "zipcode": "",
            "city": "",
            "country": buyer.iso2,
            "state": "",
            "vat_id": "",
            "vat_id_validated": False,
            "internal_reference": "",
            "custom_field": None,
        },
        "positions": positions,
        "downloads": [],
    }
    if order.code is None:  # a broken partner record (see pretix_data.generate, bad_records)
        del record["code"]
        del record["url"]
    return record
