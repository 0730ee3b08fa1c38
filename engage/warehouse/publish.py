"""Publish the marts for analysts: a read-only DuckDB copy, Parquet files and the programme report.

Each is replaced atomically (write aside, fsync, rename), so a reader always sees a complete
earlier or later version; readers holding the old database file keep reading it undisturbed.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from engage.config import PipelineConfig
from engage.landing.batches import new_batch_id
from engage.warehouse.publish_gate import check_shrinkage
from engage.warehouse.quality import copy_quality_figures
from engage.warehouse.schema import quote_identifier, release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot

if TYPE_CHECKING:
    from engage.report.build import ReportFiles

MARTS_SCHEMA = "marts"
KEEP_PARQUET_VERSIONS = 2


@dataclass(frozen=True)
class PublishResult:
    database: Path
    parquet_dir: Path
    report: Path
    tables: dict[str, int]
    docs: Path | None = None
    report_files: ReportFiles | None = None  # report.md (`report`), report.html, report.pdf


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def mart_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_catalog = ? and table_schema = ? "
        "and table_type = 'BASE TABLE' order by table_name",
        [catalog, MARTS_SCHEMA],
    ).fetchall()
    return [row[0] for row in rows]


def _swap_symlink(link: Path, target_name: str) -> None:
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target_name)
    os.replace(temporary, link)


def _prune_versions(published: Path, current: str) -> None:
    versions = sorted(p for p in published.glob("parquet-*") if p.is_dir())
    for old in versions[:-KEEP_PARQUET_VERSIONS]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)


def remove_unfinished_publish(config: PipelineConfig) -> None:
    """The leftovers of a killed publish, for a run that skips publish (nothing new to publish):
    otherwise a temporary marts file would stay until the next refresh that publishes."""
    if not config.marts_path.parent.exists() or not config.published_dir.exists():
        return
    with writer_slot(config.warehouse_path):
        _remove_leftovers(config.marts_path, config.published_dir)


def _remove_leftovers(marts_path: Path, published: Path) -> None:
    """Temp files and Parquet folders of a publish that died (SIGKILL, power loss) before its rename.

    Called under the writer slot, before this publish creates its own: nothing else is mid-publish.
    """
    for leftover in [
        *marts_path.parent.glob(f".{marts_path.name}.*.tmp*"),
        *published.glob(".parquet.*.tmp"),
        *published.glob(".docs.html.*.tmp"),
        *published.glob(".report*.tmp"),
    ]:
        leftover.unlink(missing_ok=True)
    link = published / "parquet"
    current = os.readlink(link) if link.is_symlink() else None
    for folder in published.glob("parquet-*"):
        if folder.is_dir() and current is not None and folder.name > current:
            shutil.rmtree(folder, ignore_errors=True)  # newer than the published one: never swapped in


def _publish_docs(static_page: Path | None, published: Path) -> Path | None:
    """The dbt docs page beside the marts (written aside, then renamed over the old one)."""
    if static_page is None or not static_page.exists():
        return None
    target = published / "docs.html"
    temporary = published / f".docs.html.{os.getpid()}.tmp"
    shutil.copyfile(static_page, temporary)
    os.replace(temporary, target)
    return target


def publish(
    config: PipelineConfig, *, docs_page: Path | None = None, allow_shrink: bool = False
) -> PublishResult:
    """Copy every table of the `marts` schema to the published database, Parquet and report.

    `docs_page`: the static page of `dbt docs generate --static`, published as `docs.html`.
    Raises PublishBlocked (the published version stays) when a fact table or headline KPI would
    shrink beyond `publish.max_shrink_percent` unexplained by erasures, unless `allow_shrink`.
    """
    # The report pulls in Altair, vl-convert and WeasyPrint: imported when publishing, not whenever
    # the CLI or a DAG file imports this module.
    from engage.report.build import build_report, record_published

    marts_path = config.marts_path
    published = config.published_dir
    marts_path.parent.mkdir(parents=True, exist_ok=True)
    published.mkdir(parents=True, exist_ok=True)
    version = new_batch_id()
    temporary = marts_path.with_name(f".{marts_path.name}.{version}.tmp")
    parquet_version = published / f"parquet-{version}"
    with writer_slot(config.warehouse_path):
        # Everything from here to the symlink swap holds the slot: leftovers of a killed publish
        # are removed safely, and two publishes cannot swap in their versions out of order.
        _remove_leftovers(marts_path, published)
        release_in_process_dbt()
        with duckdb.connect(":memory:") as gate:
            gate.execute("attach ? as warehouse (read_only)", [str(config.warehouse_path)])
            if not mart_tables(gate, "warehouse"):
                raise RuntimeError(
                    f"no tables in schema {MARTS_SCHEMA} of {config.warehouse_path}: run dbt first"
                )
            if not allow_shrink:
                check_shrinkage(gate, marts_path, tolerance_percent=config.publish.max_shrink_percent)
        parquet_version.mkdir()
        with duckdb.connect(str(temporary)) as con:
            con.execute("attach ? as warehouse (read_only)", [str(config.warehouse_path)])
            tables = mart_tables(con, "warehouse")
            counts = {}
            for table in tables:
                name = quote_identifier(table)
                con.execute(f"create table main.{name} as select * from warehouse.{MARTS_SCHEMA}.{name}")
                counts[table] = con.execute(f"select count(*) from main.{name}").fetchone()[0]
                con.execute(
                    f"copy main.{name} to ? (format parquet)", [str(parquet_version / f"{table}.parquet")]
                )
            con.execute(
                "create table main._published as select ?::timestamptz as published_at, ? as version",
                [datetime.now(UTC), version],
            )
            copy_quality_figures(con, "warehouse")  # the report needs nothing but the published copy
            con.execute("detach warehouse")
            con.execute("checkpoint")
        # Built from the new copy before it replaces the old one: a report that cannot be built
        # fails the publish, and analysts keep the previous, consistent version of everything.
        report = build_report(temporary, published)
        _fsync(temporary)
        os.chmod(temporary, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # analysts read, never write
        os.replace(temporary, marts_path)
        _fsync(marts_path.parent)
        _swap_symlink(published / "parquet", parquet_version.name)
        _prune_versions(published, parquet_version.name)
        record_published(marts_path, published)  # only now is this version the published one
        docs = _publish_docs(docs_page, published)
    return PublishResult(marts_path, published / "parquet", report.markdown, counts, docs, report)
