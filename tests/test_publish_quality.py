"""The data-quality figures publish copies into the published copy (engage/warehouse/quality.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from engage.warehouse.quality import copy_quality_figures
from engage.warehouse.schema import ensure_schemas

NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("attach ':memory:' as warehouse")
    con.execute("use warehouse")
    ensure_schemas(con)
    batches = [
        ("b1", "pretix_a", "pretix", "orders", "incremental", 10, 9, 1, NOW),
        ("b2", "pretix_a", "pretix", "orders", "incremental", 5, 4, 0, NOW),  # one row unaccounted for
        ("b3", "registry_a", "registry", "experts", "snapshot", 3, 1, 2, NOW),
    ]
    for batch in batches:
        con.execute(
            "insert into audit.batches (batch_id, source_instance, system, stream, mode, manifest_rows, "
            "loaded_rows, quarantined_rows, extracted_at, loaded_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*batch, NOW],
        )
    reasons = [
        ("b1", "pretix_a", "pretix", "orders", "missing primary key (code)"),
        ("b3", "registry_a", "registry", "experts", "row 22: joined_date '31/02/2025' is not a date"),
        ("b3", "registry_a", "registry", "experts", "row 40: joined_date '2024-13-01' is not a date"),
    ]
    for number, (batch, source, system, stream, reason) in enumerate(reasons):
        con.execute(
            "insert into quarantine.records values (?, ?, ?, ?, ?, ?, 'raw line', ?)",
            [batch, source, system, stream, number, reason, NOW],
        )
    con.execute("use memory")
    return con


def test_streams_add_up_per_source_and_flag_load_days_that_do_not() -> None:
    con = _warehouse()
    copy_quality_figures(con, "warehouse")
    rows = con.execute(
        "select source_instance, stream, batches, source_rows, loaded_rows, quarantined_rows, "
        "mismatched_load_days from main._quality_streams order by 1"
    ).fetchall()
    assert rows == [("pretix_a", "orders", 2, 15, 13, 1, 1), ("registry_a", "experts", 1, 3, 1, 2, 0)]


def test_quarantine_reasons_are_counted_by_kind_without_row_numbers_or_values() -> None:
    con = _warehouse()
    copy_quality_figures(con, "warehouse")
    rows = con.execute(
        "select stream, reason_kind, records from main._quality_quarantine order by 1"
    ).fetchall()
    assert rows == [
        ("experts", "joined_date '…' is not a date", 2),
        ("orders", "missing primary key (code)", 1),
    ]
    assert "raw line" not in str(con.execute("select * from main._quality_quarantine").fetchall())


def test_erasures_are_counted_without_anything_about_the_person() -> None:
    con = _warehouse()
    con.execute("insert into warehouse.audit.erasures values ('e1', ?, 1, 2, 3, 0, 1, '{}', null)", [NOW])
    copy_quality_figures(con, "warehouse")
    assert con.execute("select * from main._quality_erasures").fetchall() == [(1, NOW, 3, 1)]


def test_unmapped_questions_table_exists_even_without_dbt_models() -> None:
    con = _warehouse()
    copy_quality_figures(con, "warehouse")
    assert con.execute("select count(*) from main._quality_unmapped_questions").fetchone() == (0,)
