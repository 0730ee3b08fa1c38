"""Pseudonymisation rules: personal fields replaced by keyed hashes, others untouched."""

from __future__ import annotations

import pytest

from engage.privacy.pseudonymise import MissingKeyError, Pseudonymiser, apply_rules
from extractors.pretix import ORDER_RULES


def test_pseudonyms_are_stable_normalised_and_key_dependent() -> None:
    one, two = Pseudonymiser(b"key-one"), Pseudonymiser(b"key-two")
    assert one.pseudonym(" Ana.Silva@Example.org ") == one.pseudonym("ana.silva@example.org")
    assert one.pseudonym("ana.silva@example.org") != two.pseudonym("ana.silva@example.org")
    assert len(one.pseudonym("x")) == 32


def test_order_rules_remove_every_personal_field(monkeypatch: pytest.MonkeyPatch) -> None:
    order = {
        "code": "A1B2C",
        "email": "buyer@example.org",
        "phone": "+32 2 000 00 00",
        "invoice_address": {
            "name": "Buyer Person",
            "name_parts": {"given_name": "Buyer"},
            "company": "CERT-X",
        },
        "positions": [
            {
                "id": 1,
                "attendee_email": "ana@example.org",
                "attendee_name": "Ana Silva",
                "attendee_name_parts": {"given_name": "Ana"},
                "company": "CERT-X",
            },
            {"id": 2, "attendee_email": None, "attendee_name": ""},
        ],
    }
    result = apply_rules(order, ORDER_RULES, Pseudonymiser(b"k"))
    text = repr(result)
    for secret in ("buyer@example.org", "+32 2", "Buyer", "ana@example.org", "Ana"):
        assert secret not in text
    assert result["positions"][0]["attendee_email_pseudonym"] == Pseudonymiser(b"k").pseudonym(
        "ana@example.org"
    )
    assert result["positions"][1]["attendee_email_pseudonym"] is None
    assert result["invoice_address"]["company"] == "CERT-X"
    assert result["code"] == "A1B2C"


def test_a_missing_key_stops_the_run_unless_the_demo_key_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENGAGE_TEST_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="ENGAGE_TEST_KEY"):
        Pseudonymiser.from_environment("ENGAGE_TEST_KEY")
    assert Pseudonymiser.from_environment("ENGAGE_TEST_KEY", allow_demo_key=True).key
    monkeypatch.setenv("ENGAGE_TEST_KEY", "production-key")
    assert Pseudonymiser.from_environment("ENGAGE_TEST_KEY").key == b"production-key"
