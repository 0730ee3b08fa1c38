"""Registry cases: expert rows flagged by the real row validation, and inbox files rejected whole."""

from __future__ import annotations

from pathlib import Path

from engage.privacy.allow_list import Minimiser
from engage.privacy.pseudonymise import Pseudonymiser
from extractors import registry
from extractors.registry.schemas import SCHEMAS
from tests.bad_inputs_base import EXPERTS, FileCase, RecordCase, as_line

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


def registry_row_cases() -> list[RecordCase]:
    """The expert rows as the registry extractor lands them: validated, flagged, pseudonymised."""
    text = "\r\n".join([_EXPERT_HEADER, *(row for row, _ in _EXPERT_ROWS.values())]) + "\r\n"
    records = list(registry.file_records(Path("experts_corpus.csv"), text.encode(), SCHEMAS["experts"]))
    pseudonymiser = Pseudonymiser(b"bad-inputs-corpus")  # as the extractor does before landing
    minimiser = Minimiser(registry.STREAMS["experts"].privacy_rules, pseudonymiser)  # the allow-list
    records = [minimiser.apply(r) for r in records]
    return [
        RecordCase(name, EXPERTS, as_line(record), expect)
        for (name, (_, expect)), record in zip(_EXPERT_ROWS.items(), records, strict=True)
    ]


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
