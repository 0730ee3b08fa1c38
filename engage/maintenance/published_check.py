"""A check of the analysts' published copy against the warehouse it was published from."""

from __future__ import annotations

import os
from dataclasses import dataclass

import duckdb

from engage.config import PipelineConfig
from engage.warehouse.publish import MARTS_SCHEMA, mart_tables
from engage.warehouse.schema import quote_identifier, release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot


class PublishedCopyError(Exception):
    """The analysts' published copy is missing, stale or incomplete."""


@dataclass(frozen=True)
class PublishedCheck:
    version: str
    tables: dict[str, int]


def check_published(config: PipelineConfig) -> PublishedCheck:
    """The published copy matches the warehouse's marts: every table, same row counts; the Parquet
    link points at an existing version with one file per table; the report exists (md, html, pdf).

    Raises PublishedCopyError listing every problem found.
    """
    marts, published, warehouse = config.marts_path, config.published_dir, config.warehouse_path
    where = f"published copy {marts}"
    if not marts.exists():
        raise PublishedCopyError(f"{where} is missing: run `engage publish`")
    if not warehouse.exists():
        raise PublishedCopyError(f"no warehouse at {warehouse} to compare {marts} with")
    problems: list[str] = []
    with writer_slot(warehouse):
        release_in_process_dbt()
        with duckdb.connect(str(marts), read_only=True) as con:
            con.execute("attach ? as warehouse (read_only)", [str(warehouse)])
            expected = {
                t: con.execute(
                    f"select count(*) from warehouse.{MARTS_SCHEMA}.{quote_identifier(t)}"
                ).fetchone()[0]
                for t in mart_tables(con, "warehouse")
            }
            present = {
                row[0]
                for row in con.execute(
                    "select table_name from duckdb_tables() where database_name = current_database()"
                ).fetchall()
            }
            counts: dict[str, int] = {}
            for table, rows in expected.items():
                if table not in present:
                    problems.append(f"table {table} is missing from {marts}")
                    continue
                name = quote_identifier(table)
                counts[table] = con.execute(f"select count(*) from main.{name}").fetchone()[0]
                if counts[table] != rows:
                    problems.append(f"table {table}: {counts[table]} rows published, {rows} in the warehouse")
            version = ""
            if "_published" in present:
                version = con.execute("select version from main._published").fetchone()[0]
            con.execute("detach warehouse")
    if not expected:
        problems.append(f"the warehouse {warehouse} has no tables in schema {MARTS_SCHEMA}")
    link = published / "parquet"
    if not link.is_symlink():
        problems.append(f"{link} is not a symlink to a parquet-<version> folder")
    elif not link.resolve().is_dir():
        problems.append(f"{link} points at {os.readlink(link)}, which does not exist")
    else:
        target = link.resolve()
        files = {p.stem: p for p in target.glob("*.parquet")}
        for table in sorted(set(expected) - set(files)):
            problems.append(f"{target.name} has no {table}.parquet")
        for extra in sorted(set(files) - set(expected)):
            problems.append(f"{target.name} has {extra}.parquet, which is not a table of the warehouse")
        with duckdb.connect() as con:
            for table in sorted(set(expected) & set(files)):
                rows = con.execute("select count(*) from read_parquet(?)", [str(files[table])]).fetchone()[0]
                if rows != expected[table]:
                    problems.append(f"{target.name}/{table}.parquet: {rows} rows, {expected[table]} expected")
        if version and target.name != f"parquet-{version}":
            problems.append(f"{link} points at {target.name}, the database is version {version}")
    for name in ("report.md", "report.html", "report.pdf"):
        report = published / name
        if not report.is_file() or report.stat().st_size == 0:
            problems.append(f"{report} is missing or empty")
    if problems:
        raise PublishedCopyError(f"{where} is not sound:\n  " + "\n  ".join(problems))
    return PublishedCheck(version, counts)
