"""The bad-input corpus, as data: every kind of bad (or odd but valid) record and file, by name.

A record case is one raw line, byte for byte, of a landed batch of one system/stream; a file case
is a registry inbox file (name + bytes). Each says what must happen to it:

* ``quarantine: <substring>``: the loader puts it in quarantine.records, the reason containing it;
* ``loaded``: a good-but-odd record that must load unchanged (raw JSON equal to the input);
* ``rejected file: <substring>``: the registry extractor moves the file to inbox/rejected/ with a
  reason file containing it.

tests/test_bad_inputs.py lands all of them through the real loader and registry extractor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engage.privacy.pseudonymise import Pseudonymiser, apply_rules
from extractors import registry
from extractors.registry.schemas import SCHEMAS


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


def _line(record: object) -> bytes:
    return json.dumps(record).encode() + b"\n"


SQL_TEXT = "'); drop table raw.pretix__orders; --"
HUGE_TEXT = "x" * 1_000_000
RTL_TEXT = (
    "\u0645\u0631\u0643\u0632 \u0627\u0644\u0623\u0645\u0646 \u05de\u05e8\u05db\u05d6"  # Arabic + Hebrew
)
EMOJI_TEXT = "Cyber \U0001f6e1\ufe0f Team \U0001f469\u200d\U0001f4bb"
LM = "2024-03-01T10:00:00+00:00"
KOBO_FORM = "aMhGhw3neuAop4KvnCF2Yd"  # mapped in seeds/survey_item_map.csv
KOBO_VERSION = "vz5RyPRNi6wsXhFH7imoU5"
LIME_SURVEY = "461572"  # mapped in seeds/survey_item_map.csv


def _order(code: object, **fields: object) -> dict:
    return {
        "code": code,
        "event": "bad-inputs-2024",
        "status": "p",
        "testmode": False,
        "datetime": "2024-03-01T09:00:00+00:00",
        "last_modified": LM,
        **fields,
    }


def _event(slug: str, **fields: object) -> dict:
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


def _submission(kobo_id: object, **fields: object) -> dict:
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
    return {k: v for k, v in record.items() if v is not _REMOVED}


def _response(response_id: object, **fields: object) -> dict:
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
    return {k: v for k, v in record.items() if v is not _REMOVED}


_REMOVED = object()


RECORD_CASES: list[RecordCase] = [
    # --- pretix orders: the loader's own checks ---------------------------------------------------
    RecordCase("good_order", ORDERS, _line(_order("GOOD1")), "loaded"),
    RecordCase(
        "truncated_json", ORDERS, b'{"code": "T1", "last_modified": \n', "quarantine: unparseable JSON"
    ),
    RecordCase(
        "single_quoted_json",
        ORDERS,
        b"{'code': 'SQ', 'last_modified': '2024-01-01'}\n",
        "quarantine: unparseable JSON",
    ),
    RecordCase(
        "trailing_garbage",
        ORDERS,
        b'{"code": "TG", "last_modified": "2024-01-01T00:00:00Z"} xyz\n',
        "quarantine: unparseable JSON",
    ),
    # not strict JSON, but DuckDB's reader (and Python's json) accept NaN: it loads as it is
    RecordCase(
        "nan_literal",
        ORDERS,
        b'{"code": "NAN", "last_modified": "2024-01-01T00:00:00Z", "total": NaN}\n',
        "loaded",
    ),
    RecordCase("plain_text_line", ORDERS, b"ERROR 502 Bad Gateway\n", "quarantine: unparseable JSON"),
    RecordCase(
        "html_error_page",
        ORDERS,
        b"<html><body>Service unavailable</body></html>\n",
        "quarantine: unparseable JSON",
    ),
    RecordCase("blank_line", ORDERS, b"\n", "quarantine: unparseable JSON"),  # empty is not JSON
    RecordCase(
        "invalid_utf8_bytes",
        ORDERS,
        b'{"code":"Q\xff\xfe","last_modified":"2024-02-01T00:00:00Z"}\n',
        "quarantine: not valid UTF-8",
    ),
    RecordCase(
        "utf8_bom_line",
        ORDERS,
        b'\xef\xbb\xbf{"code":"BOM","last_modified":"2024-01-01T00:00:00Z"}\n',
        "quarantine: unparseable JSON",
    ),
    RecordCase(
        "raw_tab_in_string",
        ORDERS,
        b'{"code":"TAB","last_modified":"2024-01-01T00:00:00Z","note":"a\tb"}\n',
        "quarantine: unparseable JSON",
    ),
    RecordCase("json_array", ORDERS, b'["an", "array"]\n', "quarantine: not a JSON object"),
    RecordCase("json_string", ORDERS, b'"just a string"\n', "quarantine: not a JSON object"),
    RecordCase("json_number", ORDERS, b"42\n", "quarantine: not a JSON object"),
    RecordCase("json_null", ORDERS, b"null\n", "quarantine: not a JSON object"),
    RecordCase(
        "missing_key",
        ORDERS,
        _line({"last_modified": LM, "status": "p"}),
        "quarantine: missing primary key (code)",
    ),
    RecordCase("blank_key", ORDERS, _line(_order("")), "quarantine: missing primary key (code)"),
    RecordCase("whitespace_key", ORDERS, _line(_order("   ")), "quarantine: missing primary key (code)"),
    RecordCase("null_key", ORDERS, _line(_order(None)), "quarantine: missing primary key (code)"),
    RecordCase(
        "missing_cursor",
        ORDERS,
        _line({"code": "NOCUR", "status": "p"}),
        "quarantine: missing cursor field last_modified",
    ),
    RecordCase(
        "null_cursor",
        ORDERS,
        _line(_order("NULLCUR", last_modified=None)),
        "quarantine: missing cursor field last_modified",
    ),
    RecordCase(
        "text_cursor",
        ORDERS,
        _line(_order("TXTCUR", last_modified="yesterday")),
        "quarantine: cursor field last_modified is not a timestamp: yesterday",
    ),
    RecordCase(
        "impossible_date_cursor",
        ORDERS,
        _line(_order("FEB30", last_modified="2024-02-30T10:00:00Z")),
        "quarantine: is not a timestamp",
    ),
    RecordCase(
        "numeric_cursor",
        ORDERS,
        _line(_order("NUMCUR", last_modified=True)),
        "quarantine: is not a timestamp",
    ),
    RecordCase(
        "extractor_flagged",
        ORDERS,
        _line(_order("FLAG", _quarantine_reason="row 7: date_joined is not a date")),
        "quarantine: row 7: date_joined is not a date",
    ),
    # --- pretix orders: odd but valid, must load unchanged ----------------------------------------
    RecordCase(
        "rtl_name",
        ORDERS,
        _line(_order("RTL", invoice_address={"company": RTL_TEXT, "country": "BE"})),
        "loaded",
    ),
    RecordCase(
        "emoji_name", ORDERS, _line(_order("EMOJI", invoice_address={"company": EMOJI_TEXT})), "loaded"
    ),
    RecordCase(
        "escaped_emoji_ascii_json",
        ORDERS,
        b'{"code":"ESC","last_modified":"2024-01-03T00:00:00Z","comment":"\\u0645\\u0631 \\ud83d\\ude00"}\n',
        "loaded",
    ),
    RecordCase("sql_looking_text", ORDERS, _line(_order("SQLTXT", comment=SQL_TEXT)), "loaded"),
    # Wrong types in fields that are neither key nor cursor: the record loads as it came; staging
    # reads such a value as null (try_cast) instead of failing the whole refresh.
    RecordCase("wrong_type_boolean", ORDERS, _line(_order("WTBOOL", testmode="maybe")), "loaded"),
    RecordCase("wrong_type_timestamp", ORDERS, _line(_order("WTTIME", datetime="garbage")), "loaded"),
    RecordCase(
        "wrong_type_object", ORDERS, _line(_order("WTOBJ", invoice_address="not an object")), "loaded"
    ),
    RecordCase("sql_looking_key", ORDERS, _line(_order(SQL_TEXT)), "loaded"),
    RecordCase("huge_string_1mb", ORDERS, _line(_order("HUGE", comment=HUGE_TEXT)), "loaded"),
    RecordCase(
        "future_dates",
        ORDERS,
        _line(_order("FUTURE", datetime="2099-12-31T23:59:59+00:00", last_modified="2099-12-31T23:59:59Z")),
        "loaded",
    ),
    RecordCase(
        "duplicate_id_first",
        ORDERS,
        _line(_order("DUP", status="n", last_modified="2024-02-01T00:00:00Z")),
        "loaded",
    ),
    RecordCase(
        "duplicate_id_conflicting_update",
        ORDERS,
        _line(_order("DUP", status="c", last_modified="2024-04-01T00:00:00Z")),
        "loaded",
    ),
    RecordCase(
        "out_of_order_timestamp", ORDERS, _line(_order("OLD", last_modified="2019-01-01T00:00:00Z")), "loaded"
    ),
    RecordCase("numeric_key", ORDERS, _line(_order(12345)), "loaded"),
    RecordCase(
        "unknown_fields",
        ORDERS,
        _line(_order("EXTRA", brand_new_field={"nested": [1, 2, {"a": None}]})),
        "loaded",
    ),
    RecordCase(
        "control_chars_escaped", ORDERS, _line(_order("CTRL", comment="tab\tnul\u0000bell\u0007")), "loaded"
    ),
    RecordCase(
        "unknown_country", ORDERS, _line(_order("ATL", invoice_address={"country": "Atlantis"})), "loaded"
    ),
    # --- pretix events (snapshot, key slug) -------------------------------------------------------
    RecordCase("good_event", EVENTS, _line(_event("bad-inputs-2024")), "loaded"),
    RecordCase(
        "event_missing_slug",
        EVENTS,
        _line({"name": {"en": "No slug"}}),
        "quarantine: missing primary key (slug)",
    ),
    RecordCase("event_not_object", EVENTS, b"[1, 2, 3]\n", "quarantine: not a JSON object"),
    RecordCase(
        "event_rtl_emoji_name",
        EVENTS,
        _line(_event("rtl-emoji", name={"en": f"{RTL_TEXT} {EMOJI_TEXT}"})),
        "loaded",
    ),
    RecordCase(
        "event_future_dates",
        EVENTS,
        _line(
            _event("future-2099", date_from="2099-06-01T09:00:00+02:00", date_to="2099-06-02T17:00:00+02:00")
        ),
        "loaded",
    ),
    RecordCase(
        "event_unknown_country",
        EVENTS,
        _line(_event("atlantis", meta_data={"activity_type": "training", "host_country": "Atlantis"})),
        "loaded",
    ),
    RecordCase(
        "event_ambiguous_country",
        EVENTS,
        _line(
            _event(
                "congo",
                meta_data={
                    "activity_type": "training",
                    "host_country": "Congo",
                    "beneficiary_countries": "Guinea; Korea",
                },
            )
        ),
        "loaded",
    ),
    RecordCase("event_sql_looking_name", EVENTS, _line(_event("sql-name", name={"en": SQL_TEXT})), "loaded"),
    # --- kobotoolbox assets and submissions (key _xform_id_string + _id, timestamp cursor) -----
    RecordCase(
        "good_asset",
        ASSETS,
        _line(
            {
                "uid": KOBO_FORM,
                "name": "Post-activity evaluation",
                "asset_type": "survey",
                "version_id": KOBO_VERSION,
            }
        ),
        "loaded",
    ),
    RecordCase("good_submission", SUBMISSIONS, _line(_submission(9001)), "loaded"),
    RecordCase(
        "submission_missing_id",
        SUBMISSIONS,
        _line(_submission(_REMOVED)),
        "quarantine: missing primary key (_xform_id_string, _id)",
    ),
    RecordCase(
        "submission_missing_form",
        SUBMISSIONS,
        _line(_submission(9002, _xform_id_string=_REMOVED)),
        "quarantine: missing primary key (_xform_id_string, _id)",
    ),
    RecordCase(
        "submission_bad_time",
        SUBMISSIONS,
        _line(_submission(9003, _submission_time="05/03/2024 10h")),
        "quarantine: cursor field _submission_time is not a timestamp",
    ),
    RecordCase(
        "submission_missing_time",
        SUBMISSIONS,
        _line(_submission(9004, _submission_time=_REMOVED)),
        "quarantine: missing cursor field _submission_time",
    ),
    RecordCase(
        "score_out_of_range_high",
        SUBMISSIONS,
        _line(_submission(9005, **{"evaluation/satisfaction": "11"})),
        "loaded",
    ),
    RecordCase(
        "score_out_of_range_negative",
        SUBMISSIONS,
        _line(_submission(9006, **{"evaluation/relevance": "-3"})),
        "loaded",
    ),
    RecordCase(
        "score_not_a_number",
        SUBMISSIONS,
        _line(_submission(9007, **{"evaluation/satisfaction": "five"})),
        "loaded",
    ),
    RecordCase(
        "new_survey_question",
        SUBMISSIONS,
        _line(_submission(9008, **{"evaluation/brand_new_question": "3"})),
        "loaded",
    ),
    RecordCase(
        "removed_survey_question",
        SUBMISSIONS,
        _line(_submission(9009, **{"evaluation/relevance": _REMOVED})),
        "loaded",
    ),
    RecordCase(
        "submission_future_time",
        SUBMISSIONS,
        _line(_submission(9010, _submission_time="2099-01-01T00:00:00")),
        "loaded",
    ),
    # --- limesurvey responses (key _survey_id + id, integer cursor) -------------------------------
    RecordCase("good_response", RESPONSES, _line(_response(101)), "loaded"),
    RecordCase(
        "response_missing_id",
        RESPONSES,
        _line(_response(_REMOVED)),
        "quarantine: missing primary key (_survey_id, id)",
    ),
    RecordCase(
        "response_text_id",
        RESPONSES,
        _line(_response("abc")),
        "quarantine: cursor field id is not an integer: abc",
    ),
    RecordCase(
        "response_out_of_range_code", RESPONSES, _line(_response(102, **{"SATISF[SQ001]": "A9"})), "loaded"
    ),
    RecordCase("response_new_question", RESPONSES, _line(_response(103, NUEVAPREGUNTA="A2")), "loaded"),
    RecordCase("response_removed_question", RESPONSES, _line(_response(104, RELEVANCIA=_REMOVED)), "loaded"),
    RecordCase(
        "response_rtl_emoji_free_text",
        RESPONSES,
        _line(_response(105, COMENTARIOS=f"{RTL_TEXT} {EMOJI_TEXT} {SQL_TEXT}")),
        "loaded",
    ),
]

# --- registry rows: landed by the real registry row validation, flagged, then quarantined ---------

_EXPERT_HEADER = "Expert ID,Full name,E-mail,Home country,Areas of expertise,Joined,Status"
_EXPERT_ROWS = {  # case name -> (CSV row, expected outcome); spreadsheet row = index + 2
    "registry_good_row": (
        "X1,Ana Test,ana@example.org,Belgium,incident response,2020-03-01,Active",
        "loaded",
    ),
    "registry_bad_date": (
        "X2,Bo Test,bo@example.org,Ghana,incident response,31/31/2020,Active",
        "quarantine: row 3: joined_date '31/31/2020' is not a date",
    ),
    "registry_bad_email": (
        "X3,Cy Test,not-an-email,Kenya,incident response,2020-03-01,Active",
        "quarantine: row 4: email is not an email address",
    ),
    "registry_duplicate_id": (
        "X1,Di Test,di@example.org,Chile,incident response,2020-03-01,Active",
        "quarantine: row 5: expert_id 'X1' already on row 2",
    ),
    "registry_extra_cells": (
        "X5,Ed Test,ed@example.org,Peru,incident response,2020-03-01,Active,surplus",
        "quarantine: row 6: 1 value(s) beyond the header",
    ),
    "registry_missing_required": (
        "X6,Fi Test,fi@example.org,,incident response,2020-03-01,Active",
        "quarantine: row 7: home_country is empty",
    ),
    "registry_unknown_country": (
        "X7,Gu Test,gu@example.org,Atlantis,incident response,2020-03-01,Active",
        "loaded",
    ),
}


def _registry_cases() -> list[RecordCase]:
    text = "\r\n".join([_EXPERT_HEADER, *(row for row, _ in _EXPERT_ROWS.values())]) + "\r\n"
    records = list(registry.file_records(Path("experts_corpus.csv"), text.encode(), SCHEMAS["experts"]))
    pseudonymiser = Pseudonymiser(b"bad-inputs-corpus")  # as the extractor does before landing
    records = [apply_rules(r, registry.STREAMS["experts"].privacy_rules, pseudonymiser) for r in records]
    return [
        RecordCase(name, EXPERTS, _line(record), expect)
        for (name, (_, expect)), record in zip(_EXPERT_ROWS.items(), records, strict=True)
    ]


RECORD_CASES += _registry_cases()

# --- registry files: rejected whole ---------------------------------------------------------------

_GOOD_ROW = "E9,Ann Example,ann@example.org,Belgium,incident response,2020-03-01,Active"

FILE_CASES: list[FileCase] = [
    FileCase(
        "registry_wrong_columns",
        "experts_wrong.csv",
        b"Name,Colour,Size\r\nA,red,3\r\n",
        "rejected file: missing required column(s)",
    ),
    FileCase(
        "registry_ambiguous_columns",
        "experts_ambiguous.csv",
        b"ID,Expert,Full name,E-mail,Home country,Areas of expertise,Joined,Status\r\n"
        b"1,2,a,a@b.cd,BE,x,2020-01-01,Active\r\n",
        "rejected file: both read as expert_id",
    ),
    FileCase(
        "registry_undecodable_bytes",
        "experts_bytes.csv",
        (_EXPERT_HEADER + "\r\n").encode() + b"E1,Ann \x81\x8d\x90,a@b.cd,BE,x,2020-01-01,Active\r\n",
        "rejected file: undecodable bytes",
    ),
    FileCase(
        "registry_utf16",
        "experts_utf16.csv",
        (_EXPERT_HEADER + "\r\n" + _GOOD_ROW + "\r\n").encode("utf-16"),
        "rejected file: binary content",
    ),
    FileCase("registry_empty_file", "experts_empty.csv", b"", "rejected file: the file is empty"),
    FileCase(
        "registry_blank_file", "experts_blank.csv", b"\r\n  \r\n\t\r\n", "rejected file: the file is empty"
    ),
    FileCase(
        "registry_header_only",
        "experts_header.csv",
        (_EXPERT_HEADER + "\r\n").encode(),
        "rejected file: no data rows below the header",
    ),
    FileCase(
        "registry_xls",
        "experts_legacy.xls",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
        "rejected file: unsupported file type '.xls'",
    ),
    FileCase(
        "registry_corrupt_xlsx",
        "experts_corrupt.xlsx",
        b"PK\x03\x04 this is not really a zip",
        "rejected file: not a readable XLSX workbook",
    ),
    FileCase("registry_empty_xlsx", "experts_zero.xlsx", b"", "rejected file: the file is empty"),
    FileCase(
        "registry_html_as_csv",
        "experts_export.csv",
        b"<html><body>Session expired</body></html>\r\n",
        "rejected file: missing required column(s)",
    ),
]

ALL_KINDS = [c.name for c in RECORD_CASES] + [c.name for c in FILE_CASES]
assert len(ALL_KINDS) == len(set(ALL_KINDS)), "case names must be unique"
