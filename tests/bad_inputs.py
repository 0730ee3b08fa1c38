"""The bad-input corpus, as data: every kind of bad (or odd but valid) record and file, by name.

A record case is one raw line, byte for byte, of a landed batch of one system/stream; a file case
is a registry inbox file (name + bytes). Each says what must happen to it:

* ``quarantine: <substring>``: the loader puts it in quarantine.records, the reason containing it;
* ``loaded``: a good-but-odd record that must load unchanged (raw JSON equal to the input);
* ``rejected file: <substring>``: the registry extractor moves the file to inbox/rejected/ with a
  reason file containing it.

tests/test_bad_inputs.py lands all of them through the real loader and registry extractor.

The cases live by concern: tests/bad_inputs_base.py (case types, streams, record templates),
tests/bad_inputs_records.py (the partner-system streams' lines for the loader) and
tests/bad_inputs_registry.py (registry rows and inbox files); this module assembles them.
"""

from __future__ import annotations

from tests.bad_inputs_base import (
    ASSETS,
    EMOJI_TEXT,
    EVENTS,
    EXPERTS,
    HUGE_TEXT,
    KOBO_FORM,
    KOBO_VERSION,
    LIME_SURVEY,
    LM,
    ORDERS,
    RESPONSES,
    RTL_TEXT,
    SQL_TEXT,
    SUBMISSIONS,
    FileCase,
    RecordCase,
    Stream,
)
from tests.bad_inputs_records import STREAM_RECORD_CASES
from tests.bad_inputs_registry import FILE_CASES, registry_row_cases

__all__ = [
    "ALL_KINDS",
    "ASSETS",
    "EMOJI_TEXT",
    "EVENTS",
    "EXPERTS",
    "FILE_CASES",
    "HUGE_TEXT",
    "KOBO_FORM",
    "KOBO_VERSION",
    "LIME_SURVEY",
    "LM",
    "ORDERS",
    "RECORD_CASES",
    "RESPONSES",
    "RTL_TEXT",
    "SQL_TEXT",
    "SUBMISSIONS",
    "FileCase",
    "RecordCase",
    "Stream",
]

# The streams' lines first, then the registry rows (landed by the real registry row validation).
RECORD_CASES: list[RecordCase] = [*STREAM_RECORD_CASES, *registry_row_cases()]

ALL_KINDS = [c.name for c in RECORD_CASES] + [c.name for c in FILE_CASES]
assert len(ALL_KINDS) == len(set(ALL_KINDS)), "case names must be unique"
