"""Registry inbox: file variants, bad rows, bad files, landing once, and the whole path to staging."""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import duckdb
import openpyxl
import pytest

from engage.config import PipelineConfig, load_config
from engage.extract import extract_stream
from engage.warehouse.loader import load_pending
from extractors import registry
from extractors.registry.files import stream_of
from extractors.registry.schemas import header_key
from extractors.streams import FetchContext
from simulator import registry_files
from tests.conftest import write_config

EXPERT_HEADER = ["Expert ID", "Full name", "E-mail", "Home country", "Areas of expertise", "Languages"]
EXPERT_HEADER += ["Joined", "Status"]
EXPERT_ROWS: list[list[object]] = [
    ["E1", "José Núñez", "jose.nunez@example.org", "Viet Nam", "incident response; CIP", "English; Spanish"],
    ["E2", "Zoë Müller", "zoe.muller@example.org", "DOM", "cyber diplomacy", "French", "15/07/2021", ""],
]
EXPERT_ROWS[0] += ["2020-03-01", "Active"]


def _csv_bytes(rows: list[list[object]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def _fetch(inbox: Path, stream: str, seen: frozenset[str] = frozenset()) -> tuple[list[dict], FetchContext]:
    context = FetchContext(seen_files=seen)
    source = SimpleNamespace(inbox=inbox)
    records = [r for page in registry.STREAMS[stream].fetch(None, source, context) for r in page]
    return records, context


def _reasons(records: list[dict]) -> list[str]:
    return [r["_quarantine_reason"] for r in records if "_quarantine_reason" in r]


# --- file names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stream"),
    [
        ("experts_2025-06-30.csv", "experts"),
        ("Expert_Pool.XLSX", "experts"),
        ("stakeholders.csv", "stakeholders"),
        ("mapped_projects_q2.xlsx", "mapped_projects"),
        ("assistance_log.tsv", "assistance_requests"),
        ("experts.xls", "experts"),  # claimed, then rejected as an unsupported type
        ("~$experts.xlsx", None),
        ("notes.csv", None),
        ("experts.pdf", None),
    ],
)
def test_the_file_name_decides_the_stream(name: str, stream: str | None) -> None:
    assert stream_of(name) == stream


# --- variants -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("utf-8", ","),
        ("utf-8-sig", ","),
        ("utf-8-sig", ";"),
        ("cp1252", ";"),
        ("cp1252", ","),
        ("utf-8", "\t"),
    ],
)
def test_csv_encodings_and_delimiters_read_the_same(tmp_path: Path, encoding: str, delimiter: str) -> None:
    header = [f"  {h} " for h in EXPERT_HEADER]  # stray spaces
    data = _csv_bytes([header, *EXPERT_ROWS, [""] * 8, []], delimiter, encoding)
    (tmp_path / "experts.csv").write_bytes(data)
    records, context = _fetch(tmp_path, "experts")
    assert context.rejected == []
    assert _reasons(records) == []
    assert [r["expert_id"] for r in records] == ["E1", "E2"]
    first, second = records
    assert first["full_name"] == "José Núñez" and second["full_name"] == "Zoë Müller"
    assert first["expertise_areas"] == ["incident_response", "critical_infrastructure_protection"]
    assert first["languages"] == ["English", "Spanish"]
    assert (first["joined_date"], second["joined_date"]) == ("2020-03-01", "2021-07-15")
    assert (first["status"], second["status"]) == ("active", None)
    assert (first["_row"], second["_row"], first["_file"]) == (2, 3, "experts.csv")


def test_xlsx_dates_numbers_and_trailing_empty_rows(tmp_path: Path) -> None:
    header = ["Project ID ", " Title", "Funder", "Implementer", "Countries", "Themes", "Start", "End"]
    header.append("Budget (EUR)")
    rows = [
        [7, "CSIRT support", "DG INTPA", "GIZ", "Fiji; PHL", "CSIRT maturity", datetime(2021, 2, 1)],
        ["P-8", "Cybercrime", "FPI", None, "Kenya", None, 44927, "", "1.250.000,50"],
        [None] * 9,
        ["", "", "", ""],
    ]
    rows[0] += [date(2023, 1, 31), 1500000]
    _xlsx(tmp_path / "mapped_projects.xlsx", [header, *rows])
    records, context = _fetch(tmp_path, "mapped_projects")
    assert context.rejected == [] and _reasons(records) == []
    first, second = records
    assert first["project_id"] == "7"
    assert (first["start_date"], first["end_date"]) == ("2021-02-01", "2023-01-31")
    assert first["countries"] == ["Fiji", "PHL"] and first["budget_eur"] == 1_500_000
    assert second["start_date"] == "2023-01-01"  # an Excel serial number in a date column
    assert (second["end_date"], second["implementer"], second["themes"]) == (None, None, [])
    assert second["budget_eur"] == 1_250_000.5
    assert [r["_row"] for r in records] == [2, 3]


def test_undeclared_columns_are_not_landed(tmp_path: Path) -> None:
    header = [*EXPERT_HEADER, "Private phone"]
    rows = [[*row, "+1 555 0100"] for row in EXPERT_ROWS]
    (tmp_path / "experts.csv").write_bytes(_csv_bytes([header, *rows]))
    records, _ = _fetch(tmp_path, "experts")
    assert records and all("+1 555 0100" not in repr(r) for r in records)


# --- bad rows -----------------------------------------------------------------------------------


def test_bad_rows_carry_their_row_number_and_reason_while_the_rest_land(tmp_path: Path) -> None:
    good = EXPERT_ROWS[0]
    rows = [
        EXPERT_HEADER,
        good,  # row 2
        ["", "No Id", "no.id@example.org", "Fiji", "exercises", "English", "2020-01-01", "active"],
        ["E3", "Bad Date", "bad.date@example.org", "Fiji", "exercises", "", "31/02/2025", "active"],
        [],  # row 5: empty, skipped but counted
        ["E4", "Bad Mail", "not-an-email", "Fiji", "exercises", "", "2020-01-01", "active"],
        ["E5", "Bad Area", "area@example.org", "Fiji", "hacking", "", "2020-01-01", "active"],
        ["E1", "Again", "again@example.org", "Fiji", "exercises", "", "2020-01-01", "active"],
        ["E6", "Too Wide", "wide@example.org", "Fiji", "exercises", "", "2020-01-01", "active", "x"],
        ["E7", "Fine", "fine@example.org", "Kosovo", "", "", "01.02.2022", "Withdrawn"],  # row 10
        ["E8", "Bad Status", "status@example.org", "Fiji", "", "", "2020-01-01", "sleeping"],
    ]
    (tmp_path / "experts.csv").write_bytes(_csv_bytes(rows))
    records, context = _fetch(tmp_path, "experts")
    assert context.rejected == []
    assert [r["_row"] for r in records] == [2, 3, 4, 6, 7, 8, 9, 10, 11]
    assert _reasons(records) == [
        "row 3: expert_id is empty",
        "row 4: joined_date '31/02/2025' is not a date (YYYY-MM-DD or DD/MM/YYYY)",
        "row 6: email is not an email address",  # a personal value is never quoted
        "row 7: expertise_areas 'hacking' not among: "
        + ", ".join(registry.SCHEMAS["experts"].columns[4].choices),
        "row 8: expert_id 'E1' already on row 2",
        "row 9: 1 value(s) beyond the header's 8 columns",
        "row 11: status 'sleeping' is not one of: active, inactive, withdrawn",
    ]
    good_rows = [r for r in records if "_quarantine_reason" not in r]
    assert [(r["expert_id"], r["joined_date"], r["status"]) for r in good_rows] == [
        ("E1", "2020-03-01", "active"),
        ("E7", "2022-02-01", "withdrawn"),
    ]


def test_cross_field_rules_of_the_assistance_log(tmp_path: Path) -> None:
    header = ["Request ID", "Requester", "Requester country", "Topic", "Requested date", "Answered date"]
    header.append("Status")
    rows = [
        header,
        ["R1", "CERT-FJ", "Fiji", "ransomware", "2025-08-01", "2025-08-03", "answered"],
        ["R2", "CERT-FJ", "Fiji", "ransomware", "2025-08-01", "", "answered"],
        ["R3", "CERT-FJ", "Fiji", "ransomware", "2025-08-05", "2025-08-01", "closed"],
        ["R4", "CERT-FJ", "Fiji", "ransomware", "2025-08-05", "", "Open"],
    ]
    (tmp_path / "assistance.csv").write_bytes(_csv_bytes(rows))
    records, _ = _fetch(tmp_path, "assistance_requests")
    assert _reasons(records) == [
        "row 3: status is answered but answered_date is empty",
        "row 4: answered_date 2025-08-01 is before requested_date 2025-08-05",
    ]
    assert records[3]["status"] == "open" and records[3]["answered_date"] is None


# --- bad files ----------------------------------------------------------------------------------

STAKEHOLDER_OK = _csv_bytes(
    [
        ["Stakeholder ID", "Organisation name", "Country", "Type", "Joined date"],
        ["S1", "CERT-PH", "Philippines", "National CSIRT/CERT", "2020-01-01"],
    ]
)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "stakeholders_a.csv",
            _csv_bytes([["Stakeholder ID", "Name", "Country"], ["S9", "X", "Fiji"]]),
            "missing required column(s): stakeholder_type, joined_date (the header has 3 named column(s))",
        ),
        (
            "stakeholders_b.csv",
            b"Stakeholder ID,Organisation\r\nS9,\x81\x8d\x90\r\n\xff\xfe\x9d",
            "undecodable bytes",
        ),
        ("stakeholders_c.csv", b"", "the file is empty"),
        ("stakeholders_d.csv", b"\r\n  \r\n", "the file is empty"),
        ("stakeholders_e.csv", b"Stakeholder ID;Organisation;Country;Type;Joined\r\n", "no data rows"),
        ("stakeholders_f.xlsx", b"PK\x03\x04 not really a workbook", "not a readable XLSX workbook"),
        ("stakeholders_g.xls", b"\xd0\xcf\x11\xe0", "unsupported file type '.xls'"),
        ("stakeholders_h.csv", "ID,Organisation\r\nS9,X\r\n".encode("utf-16"), "binary content"),
    ],
)
def test_a_bad_file_is_rejected_whole_and_the_others_load(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    (tmp_path / name).write_bytes(content)
    (tmp_path / "stakeholders_z.csv").write_bytes(STAKEHOLDER_OK)
    records, context = _fetch(tmp_path, "stakeholders")
    assert [(r["stakeholder_id"], r["stakeholder_type"], r["_file"]) for r in records] == [
        ("S1", "csirt", "stakeholders_z.csv")
    ]
    assert len(context.rejected) == 1
    rejected_name, message = context.rejected[0]
    assert rejected_name == name and reason in message
    assert not (tmp_path / name).exists()
    assert (tmp_path / "rejected" / name).read_bytes() == content
    assert reason in (tmp_path / "rejected" / f"{name}.reason.txt").read_text(encoding="utf-8")


def test_the_delimiter_is_checked_against_the_declared_columns(tmp_path: Path) -> None:
    # commas inside the values tempt the sniffer; the header proves ';' right
    rows = [
        ["Stakeholder ID", "Organisation name", "Country", "Type", "Joined date"],
        ["S1", "Ministry of ICT, Fiji", "Fiji", "ministry", "2020-01-01"],
        ["S2", "Police, Cybercrime Unit, Kenya", "Kenya", "law enforcement", "2020-01-01"],
    ]
    (tmp_path / "stakeholders.csv").write_bytes(_csv_bytes(rows, ";"))
    records, context = _fetch(tmp_path, "stakeholders")
    assert context.rejected == [] and _reasons(records) == []
    assert [r["organisation_name"] for r in records] == [
        "Ministry of ICT, Fiji",
        "Police, Cybercrime Unit, Kenya",
    ]


# --- through extract and load -------------------------------------------------------------------


def _registry_config(folder: Path, inbox: Path) -> PipelineConfig:
    source = {"kind": "registry", "inbox": str(inbox)}
    return load_config(write_config(folder, "http://127.0.0.1:9/unused/", sources={"registry_test": source}))


def test_a_file_lands_once_even_when_dropped_again_or_renamed(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "stakeholders_1.csv").write_bytes(STAKEHOLDER_OK)
    (inbox / "stakeholders_1_copy.csv").write_bytes(STAKEHOLDER_OK)  # the same file twice in one drop
    config = _registry_config(tmp_path, inbox)
    first = extract_stream(config, "registry_test", "stakeholders")
    assert first.batch_id is not None and first.records == 1
    (inbox / "stakeholders_1.csv").rename(inbox / "stakeholders_renamed.csv")
    shutil.copy(inbox / "stakeholders_renamed.csv", inbox / "stakeholders_again.csv")
    again = extract_stream(config, "registry_test", "stakeholders")
    assert (again.batch_id, again.records) == (None, 0)
    changed = STAKEHOLDER_OK + b"S2,CERT-ID,Indonesia,csirt,2021-01-01\r\n"
    (inbox / "stakeholders_2.csv").write_bytes(changed)
    later = extract_stream(config, "registry_test", "stakeholders")
    assert later.records == 2  # a changed file is a new file: all of its rows land


# --- end to end with the demo files -------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[PipelineConfig, list[Path]]:
    from engage.warehouse.dbt import build

    folder = tmp_path_factory.mktemp("registry_e2e")
    inbox = folder / "inbox"
    files = registry_files.write_inbox(inbox)
    originals = folder / "originals"
    shutil.copytree(inbox, originals)
    config = _registry_config(folder, inbox)
    for stream in registry.STREAMS:
        result = extract_stream(config, "registry_test", stream)
        assert result.rejected_files == [] and result.batch_id is not None
    load_pending(config)
    build(config)
    return config, [originals / f.name for f in files]


def _query(config: PipelineConfig, sql: str) -> list[tuple]:
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_demo_files_yield_the_programme_figures_in_staging(demo_run) -> None:
    config, _ = demo_run
    counts = _query(
        config,
        """select (select count(*) from staging.stg_registry__experts),
                  (select count(distinct expert_code) from staging.stg_registry__experts),
                  (select count(*) from staging.stg_registry__stakeholders),
                  (select count(*) from staging.stg_registry__mapped_projects),
                  (select count(*) from staging.stg_registry__assistance_requests)""",
    )[0]
    assert counts == (557, 557, 126, registry_files.PROJECTS_TOTAL, registry_files.REQUESTS_TOTAL)
    # the later CSV export's rows win: its new experts and its updates
    from_csv = _query(
        config,
        "select count(*) from staging.stg_registry__experts where source_file_name like '%.csv'",
    )[0][0]
    expected = registry_files.EXPERTS_TOTAL - registry_files.EXPERTS_INITIAL + registry_files.EXPERTS_UPDATED
    assert from_csv == expected
    lac4 = _query(
        config,
        "select country_raw, joined_date from staging.stg_registry__stakeholders "
        "where stakeholder_type = 'competence_centre'",
    )
    assert len(lac4) == 1 and lac4[0][1] == date(2023, 5, 1)


def test_the_demo_bad_rows_are_quarantined_with_their_row(demo_run) -> None:
    config, _ = demo_run
    rows = _query(config, "select stream, reason from quarantine.records order by stream, reason")
    assert rows == [
        ("assistance_requests", "row 14: status is answered but answered_date is empty"),
        ("experts", "row 139: expert_id is empty"),
        ("experts", "row 22: joined_date '31/02/2025' is not a date (YYYY-MM-DD or DD/MM/YYYY)"),
        ("mapped_projects", "row 62: end_date 2024-01-01 is before start_date 2026-01-01"),
        ("stakeholders", "row 62: stakeholder_id is empty"),
        ("stakeholders", "row 92: joined_date '2024-13-01' is not a date (YYYY-MM-DD or DD/MM/YYYY)"),
    ]
    # E0042's bad update is quarantined: its earlier version (from the XLSX) stays current
    current = _query(
        config, "select source_file_name from staging.stg_registry__experts where expert_code = 'E0042'"
    )
    assert current == [("experts_2023-12-31.xlsx",)]


def _personal_values(files: list[Path]) -> set[str]:
    values: set[str] = set()
    for path in files:
        if path.suffix == ".csv":
            text = path.read_bytes().decode("utf-8-sig" if path.name.startswith("stake") else "cp1252")
            table = list(
                csv.reader(io.StringIO(text), delimiter=";" if path.name.startswith("experts") else ",")
            )
        else:
            table = [
                list(r)
                for r in openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True)
            ]
        header = [header_key(h) for h in table[0]]
        for name in ("full_name", "e_mail", "email", "contact_person", "contact_email"):
            if name in header:
                values.update(
                    str(row[header.index(name)]) for row in table[1:] if row and row[header.index(name)]
                )
    return values


def test_no_personal_value_reaches_landing_or_raw(demo_run) -> None:
    config, files = demo_run
    personal = _personal_values(files)
    assert len(personal) > 2 * 557  # names and emails of experts and contact persons were read
    landed = "\n".join(
        gzip.decompress(p.read_bytes()).decode("utf-8") for p in config.landing_dir.rglob("*.ndjson.gz")
    )
    raw = "\n".join(
        r[0]
        for table in ("experts", "stakeholders")
        for r in _query(config, f"select record::varchar from raw.registry__{table}")
    )
    quarantined = "\n".join(r[0] for r in _query(config, "select raw_line || reason from quarantine.records"))
    for text in (landed, raw, quarantined):
        assert "@example.org" not in text
        assert [v for v in personal if v in text] == []
    assert "email_pseudonym" in landed and "contact_name_pseudonym" in landed


# --- hostile inbox entries ------------------------------------------------------------------------


def test_symlinks_fifos_and_folders_in_the_inbox_are_skipped_never_followed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import os
    import time

    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    (outside / "stakeholders_secret.csv").write_bytes(STAKEHOLDER_OK.replace(b"CERT-PH", b"OUTSIDE-ORG"))
    (inbox / "stakeholders_link.csv").symlink_to(outside / "stakeholders_secret.csv")
    (inbox / "stakeholders_passwd.csv").symlink_to("/etc/passwd")
    (inbox / "stakeholders_dangling.csv").symlink_to(tmp_path / "missing.csv")
    (inbox / "stakeholders_folder.csv").mkdir()
    os.mkfifo(inbox / "stakeholders_pipe.csv")  # a read would block forever
    (inbox / "stakeholders_z.csv").write_bytes(STAKEHOLDER_OK)
    started = time.monotonic()
    with caplog.at_level("INFO"):
        records, context = _fetch(inbox, "stakeholders")
    assert time.monotonic() - started < 5
    assert [r["_file"] for r in records] == ["stakeholders_z.csv"]
    assert context.rejected == []  # skipped, not moved: a rejection would move the link's target
    assert not (inbox / "rejected").exists()
    assert (outside / "stakeholders_secret.csv").exists()
    log_text = caplog.text
    assert "root:" not in log_text and "OUTSIDE-ORG" not in log_text


def test_a_file_swapped_for_a_symlink_after_listing_is_not_followed(tmp_path: Path) -> None:
    from extractors.registry.files import read_regular_file

    target = tmp_path / "target.csv"
    target.write_bytes(b"secret")
    link = tmp_path / "stakeholders_a.csv"
    link.symlink_to(target)
    assert read_regular_file(link) is None
    assert read_regular_file(target) == b"secret"


def test_file_content_and_raw_file_names_never_reach_logs_or_reasons(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "stakeholders_x\nWARNING forged line.csv"
    header_content = b"root:x:0:0:root:/root:/bin/bash,Country\r\nS1,Fiji\r\n"
    (tmp_path / forged).write_bytes(header_content)
    with caplog.at_level("INFO"):
        _, context = _fetch(tmp_path, "stakeholders")
    [(name, reason)] = context.rejected
    assert name == forged and "root:x" not in reason
    reason_file = tmp_path / "rejected" / f"{forged}.reason.txt"
    text = reason_file.read_text(encoding="utf-8")
    assert "root:x" not in text and len(text.splitlines()) == 1  # the newline is escaped
    assert all("\n" not in record.getMessage() for record in caplog.records)
    assert "root:x" not in caplog.text and "stakeholders_x\\nWARNING" in caplog.text
