"""A published copy without the marts the report reads still gets a report: one that says so."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
from pypdf import PdfReader

from engage.report.build import build_report


def test_a_partial_published_copy_gets_a_page_naming_the_missing_marts(tmp_path: Path) -> None:
    database = tmp_path / "marts.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(
            "create table _published as select ?::timestamptz as published_at, 'v1' as version",
            [datetime.now(UTC)],
        )
        con.execute(
            "create table mart_programme_kpis_by_phase as "
            "select * from (values ('1', 252, 13414), ('all', 291, 15614)) t(phase, activities, attendances)"
        )
    files = build_report(database, tmp_path / "published")
    html = files.html.read_text(encoding="utf-8")
    assert "cannot be drawn from this published copy" in html
    assert "<code>mart_indicators</code>" in html and "mart_programme_kpis_by_phase<" not in html
    assert "| 1 | 252 |" in files.markdown.read_text(encoding="utf-8")
    assert files.pdf is not None
    assert "mart_indicators" in PdfReader(files.pdf).pages[0].extract_text()
