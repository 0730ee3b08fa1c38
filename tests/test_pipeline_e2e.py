"""The whole path through real parts: simulator over HTTP -> landing -> DuckDB -> dbt -> published marts."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import requests
from typer.testing import CliRunner

from engage.cli import app
from engage.config import PipelineConfig, load_config
from engage.pipeline import RunSummary, run_pipeline
from engage.privacy.scan import string_leaves
from tests.conftest import TOKEN_ENV, write_config

pytestmark = pytest.mark.integration
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@pytest.fixture(scope="module")
def own_simulator() -> Iterator[object]:
    """This module changes the partner system's data, so it gets a simulator of its own."""
    import os

    from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

    os.environ[TOKEN_ENV] = DEMO_PRETIX_TOKEN
    with start_simulator(port=0) as handle:
        yield handle


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, own_simulator) -> tuple[PipelineConfig, RunSummary]:
    config = load_config(write_config(tmp_path_factory.mktemp("e2e"), own_simulator.pretix_url))
    return config, run_pipeline(config)


def _kpis(config: PipelineConfig) -> dict[str, dict]:
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        cursor = con.execute("select * from mart_programme_kpis where dimension in ('phase', 'all')")
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return {row["dimension_value"]: row for row in rows}  # keyed by phase ("1", "2") or "all"


def _all_mart_rows(config: PipelineConfig) -> dict[str, list[tuple]]:
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where table_name <> '_published'"
            ).fetchall()
        ]
        return {t: sorted(con.execute(f'select * from "{t}"').fetchall(), key=repr) for t in tables}


def test_the_first_run_reproduces_the_first_phase_figures(first_run) -> None:
    config, _ = first_run
    phase_1 = _kpis(config)["1"]
    assert phase_1["activities"] == 252
    assert phase_1["countries_engaged"] == 97
    assert phase_1["attendances"] > 13_000
    assert phase_1["participants"] < phase_1["attendances"]  # people come back to later activities


def test_the_summary_counts_every_stream(first_run) -> None:
    _, summary = first_run
    orders = summary.streams[("pretix_test", "orders")]
    assert orders.extracted == orders.loaded + orders.quarantined
    assert orders.quarantined == 1  # the simulator's one broken order (no code)
    events = summary.streams[("pretix_test", "events")]
    assert events.extracted > 0 and events.loaded + events.quarantined == events.extracted
    assert ("pretix_test", "checkins") not in summary.streams  # not a default stream


def test_a_keyless_record_is_quarantined_with_its_reason_and_its_batch_loads(first_run) -> None:
    config, summary = first_run
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        quarantined = con.execute(
            "select reason, raw_line, batch_id from quarantine.records where stream = 'orders'"
        ).fetchall()
        [(reason, raw_line, batch_id)] = quarantined
        loaded_from_batch = con.execute(
            "select count(*) from raw.pretix__orders where batch_id = ?", [batch_id]
        ).fetchone()[0]
    assert reason == "missing primary key (code)"
    assert "code" not in json.loads(raw_line)
    assert loaded_from_batch == summary.streams[("pretix_test", "orders")].loaded


def _people(seed_dataset) -> tuple[set[str], set[str]]:
    emails, names = set(), set()
    for order in seed_dataset.orders:
        for person in [order.person, *(p.person for p in order.positions)]:
            emails.add(person.email.lower())
            names.add(person.full_name.lower())
    return emails, names


def _exposed(strings: Iterator[str], emails: set[str], names: set[str]) -> list[str]:
    return [s for s in strings if EMAIL.search(s) or s.strip().lower() in names or s.lower() in emails]


def test_no_email_or_name_in_landing_raw_tables_or_published_marts(first_run) -> None:
    from simulator.pretix_data import generate

    config, _ = first_run
    emails, names = _people(generate())
    assert len(emails) > 10_000 and len(names) > 1_000  # the scan looks for real values

    def landed() -> Iterator[str]:
        for part in config.landing_dir.rglob("part-*.ndjson.gz"):
            with gzip.open(part, "rt", encoding="utf-8") as handle:
                for line in handle:
                    yield from string_leaves(json.loads(line))

    def database(path: Path) -> Iterator[str]:
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
            for schema, table in tables:
                for row in con.execute(f'select * from "{schema}"."{table}"').fetchall():
                    yield from string_leaves([v for v in row if isinstance(v, str)])

    assert _exposed(landed(), emails, names) == []
    assert _exposed(database(config.warehouse_path), emails, names) == []
    assert _exposed(database(config.marts_path), emails, names) == []


def test_the_published_copy_is_read_only_with_parquet_and_report(first_run) -> None:
    config, summary = first_run
    assert not config.marts_path.stat().st_mode & 0o222
    parquet = config.published_dir / "parquet"
    assert {p.stem for p in parquet.glob("*.parquet")} == set(summary.published.tables)
    with duckdb.connect() as con:
        count = con.execute("select count(*) from read_parquet(?)", [str(parquet / "dim_activity.parquet")])
        assert count.fetchone()[0] == summary.published.tables["dim_activity"]
    docs = summary.published.docs.read_text(encoding="utf-8")
    assert summary.published.docs == config.published_dir / "docs.html"
    assert "fct_participation" in docs and "mart_programme_kpis" in docs  # models with their docs
    report = (config.published_dir / "report.md").read_text()
    assert "| 1 | 252 |" in report


def test_a_second_run_extracts_nothing_and_changes_no_mart_row(first_run) -> None:
    config, _ = first_run
    before = _all_mart_rows(config)
    # what a publish killed while writing its copy leaves (the next run skips publish: it goes anyway)
    leftover = config.marts_path.with_name(f".{config.marts_path.name}.20000101T000000000000Z-dead00.tmp")
    leftover.write_bytes(b"half a marts file")
    result = CliRunner().invoke(app, ["run", "--config", str(config.config_path)])
    assert result.exit_code == 0, result.output
    assert "nothing new" in result.output and "unchanged snapshot" in result.output
    assert "dbt and publish skipped" in result.output and not leftover.exists()
    # source count and received may be 1 (the inclusive boundary order, asked for again, not landed)
    assert re.search(r"orders\s+│\s+\d+\s+│\s+\d+\s+│\s+0\s+│\s+0\s+│\s+0\s+│", result.output), result.output
    assert "Running with dbt" not in result.output  # dbt runs quietly; its progress is ours
    assert _all_mart_rows(config) == before


def test_changes_at_the_source_flow_through_incrementally(first_run, own_simulator) -> None:
    config, _ = first_run
    before = _kpis(config)["all"]
    control = own_simulator.base_url + "/_sim/pretix"
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        [event] = con.execute("select min(event_slug) from dim_activity where phase = '1'").fetchone()
    new_order = requests.post(
        control + "/orders",
        json={"event": event, "email": "new.person@example.org", "name": "New Person", "country": "Viet Nam"},
        timeout=10,
    ).json()
    requests.post(control + f"/orders/{new_order['code']}/checkin", timeout=10).raise_for_status()

    summary = run_pipeline(config)
    orders = summary.streams[("pretix_test", "orders")]
    # only the new order, not the 17,000 others; its check-in came with it (the scan touched it)
    assert (orders.extracted, orders.loaded) == (1, 1)
    after = _kpis(config)["all"]
    assert after["attendances"] == before["attendances"] + 1
    assert after["participants"] == before["participants"] + 1
