"""The bad-input corpus's building blocks: case types, landed streams, sample texts, record templates."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Stream:
    system: str
    stream: str
    primary_key: tuple[str, ...]
    cursor_field: str | None
    cursor_type: str = "timestamp"


ORDERS = Stream("pretix", "orders", ("code",), "last_modified")
EVENTS = Stream("pretix", "events", ("slug",), None)
SUBMISSIONS = Stream("kobotoolbox", "submissions", ("_xform_id_string", "_id"), "_submission_time")
RESPONSES = Stream("limesurvey", "responses", ("_survey_id", "id"), "id", "integer")
EXPERTS = Stream("registry", "experts", ("expert_id",), None)
ASSETS = Stream("kobotoolbox", "assets", ("uid",), None)


@dataclass(frozen=True)
class RecordCase:
    name: str
    stream: Stream
    line: bytes  # one landed line, newline included
    expect: str  # "loaded" or "quarantine: <reason substring>"


@dataclass(frozen=True)
class FileCase:
    name: str
    file_name: str
    data: bytes
    expect: str  # "rejected file: <reason substring>"


def as_line(record: object) -> bytes:
    return json.dumps(record).encode() + b"\n"


SQL_TEXT = "'); drop table raw.pretix__orders; --"
HUGE_TEXT = "x" * 1_000_000
RTL_TEXT = (
    "\u0645\u0631\u0643\u0632 \u0627\u0644\u0623\u0645\u0646 \u05de\u05e8\u05db\u05d6"  # Arabic + Hebrew
)
EMOJI_TEXT = "Cyber \U0001f6e1\ufe0f Team \U0001f469\u200d\U0001f4bb"
LM = "2024-03-01T10:00:00+00:00"
KOBO_FORM = "aMhGhw3neuAop4KvnCF2Yd"  # listed as kobo_post_activity in test_bad_inputs.py's config
KOBO_VERSION = "vz5RyPRNi6wsXhFH7imoU5"
LIME_SURVEY = "461572"  # listed as limesurvey_post_activity_es there

REMOVED = object()  # a field value meaning: leave the field out of the record


def pretix_order(code: object, **fields: object) -> dict:
    return {
        "code": code,
        "event": "bad-inputs-2024",
        "status": "p",
        "testmode": False,
        "datetime": "2024-03-01T09:00:00+00:00",
        "last_modified": LM,
        **fields,
    }


def pretix_event(slug: str, **fields: object) -> dict:
    return {
        "slug": slug,
        "name": {"en": slug},
        "live": True,
        "testmode": False,
        "date_from": "2024-05-01T09:00:00+02:00",
        "date_to": "2024-05-02T17:00:00+02:00",
        "timezone": "Europe/Brussels",
        "meta_data": {
            "activity_type": "training",
            "host_country": "Belgium",
            "beneficiary_countries": "Ghana; Kenya",
            "phase": "1",
        },
        **fields,
    }


def kobo_submission(kobo_id: object, **fields: object) -> dict:
    record = {
        "_id": kobo_id,
        "_xform_id_string": KOBO_FORM,
        "__version__": KOBO_VERSION,
        "_submission_time": "2024-05-03T10:00:00",
        "_uuid": f"uuid-{kobo_id}",
        "activity/activity_code": "bad-inputs-2024",
        "evaluation/satisfaction": "4",
        "evaluation/relevance": "5",
        "evaluation/would_recommend": "1",
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not REMOVED}


def lime_response(response_id: object, **fields: object) -> dict:
    record = {
        "id": response_id,
        "_survey_id": LIME_SURVEY,
        "submitdate": "2024-05-04 09:00:00",
        "lastpage": 2,
        "startdate": "2024-05-04 08:50:00",
        "datestamp": "2024-05-04 09:00:00",
        "ACTIVIDAD": "bad-inputs-2024",
        "SATISF[SQ001]": "A4",
        "RELEVANCIA": "A5",
        "RECOMIENDA": "Y",
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not REMOVED}
