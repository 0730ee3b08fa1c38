"""The publish gate: a refresh that would shrink the published marts is held back.

A partial refresh (a source's first stream loaded, its others not yet) or a lost batch shows as a
fact table or a headline KPI with fewer rows than the version analysts hold now. Before the
published copy is replaced, the new figures are compared with the current ones; a figure that
shrinks by more than `publish.max_shrink_percent` plus what recorded erasures since that version
removed (audit.erasures) and what the source withdrew (published participations gone because
pretix canceled their order or position: `int_participations_withdrawn`) blocks the publish, and
the old version stays. A deliberate shrinkage (a source retired, data corrected at the partner) is
published with `allow_shrink`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engage.report.kpis import KPI_TABLE

logger = logging.getLogger(__name__)

FACT_PREFIX = "fct_"
HEADLINE_ROW = "all"  # the KPI mart's whole-programme row
_COUNT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"}


@dataclass(frozen=True)
class Shrinkage:
    figure: str  # "fct_participation rows" or "kpi attendances"
    published: int
    new: int

    def line(self) -> str:
        return f"{self.figure}: {self.published:,} published -> {self.new:,} new"


class PublishBlocked(Exception):
    """The new marts hold less than the published version; the old version was kept."""

    def __init__(
        self, shrinkages: list[Shrinkage], tolerance_percent: float, erased_rows: int, withdrawn: int = 0
    ) -> None:
        self.shrinkages = shrinkages
        figures = "; ".join(s.line() for s in shrinkages)
        super().__init__(
            f"publish blocked, the published version is kept: {figures} (tolerance "
            f"{tolerance_percent:g} % plus {erased_rows:,} rows removed by erasures and {withdrawn:,} "
            "participations canceled at the source since that version). "
            "A partial refresh? Re-run once every stream has landed; a deliberate shrinkage: "
            "`engage publish --allow-shrink` (Airflow: trigger engage_warehouse with conf "
            '{"allow_shrink": true})'
        )


def mart_figures(con: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> dict[str, int]:
    """Row counts of the fact tables and the headline KPI counts of one marts database."""
    tables = [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_catalog = ? and table_schema = ?",
            [catalog, schema],
        ).fetchall()
    ]
    figures = {}
    for table in sorted(t for t in tables if t.startswith(FACT_PREFIX)):
        figures[f"{table} rows"] = con.execute(
            f'select count(*) from "{catalog}"."{schema}"."{table}"'
        ).fetchone()[0]
    if KPI_TABLE in tables:
        cursor = con.execute(f'select * from "{catalog}"."{schema}"."{KPI_TABLE}"')
        types = {d[0]: str(d[1]).upper() for d in cursor.description}
        for row in cursor.fetchall():
            if row[0] == HEADLINE_ROW:
                for (column, kind), value in zip(types.items(), row, strict=True):
                    if kind in _COUNT_TYPES and value is not None:
                        figures[f"kpi {column}"] = int(value)
    return figures


def _erased_rows_since(con: duckdb.DuckDBPyConnection, published_at: object) -> int:
    """Rows that erasures after the published version removed or changed: shrinkage with a reason."""
    found = con.execute(
        "select coalesce(sum(raw_rows_removed + raw_rows_changed), 0) from warehouse.audit.erasures "
        "where ? is null or erased_at > ?",
        [published_at, published_at],
    ).fetchone()
    return int(found[0])


def _has_table(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.columns "
            "where table_catalog = ? and table_schema = ? and table_name = ? and column_name = ?",
            [catalog, schema, table, column],
        ).fetchone()[0]
    )


def _withdrawn_since_published(con: duckdb.DuckDBPyConnection) -> int:
    """Published participations the new marts lack because the source canceled them (a reason)."""
    withdrawn = ("warehouse", "intermediate", "int_participations_withdrawn", "participation_id")
    published = ("published", "main", "fct_participation", "participation_id")
    current = ("warehouse", "marts", "fct_participation", "participation_id")
    if not all(_has_table(con, *place) for place in (withdrawn, published, current)):
        return 0  # a warehouse built before the model, or marts without participations
    return int(
        con.execute(
            "select count(*) from published.main.fct_participation "
            "where participation_id in "
            "(select participation_id from warehouse.intermediate.int_participations_withdrawn) "
            "and participation_id not in (select participation_id from warehouse.marts.fct_participation)"
        ).fetchone()[0]
    )


def check_shrinkage(con: duckdb.DuckDBPyConnection, published_db: Path, *, tolerance_percent: float) -> None:
    """Raise PublishBlocked when `warehouse.marts` holds less than the published database.

    `con` has the working warehouse attached as `warehouse`; nothing published yet: nothing to
    compare, the first version goes out.
    """
    if not published_db.exists():
        return
    con.execute("attach ? as published (read_only)", [str(published_db)])
    try:
        before = mart_figures(con, "published", "main")
        stamp = con.execute("select max(published_at) from published.main._published").fetchone()[0]
        withdrawn = _withdrawn_since_published(con)
    finally:
        con.execute("detach published")
    after = mart_figures(con, "warehouse", "marts")
    erased = _erased_rows_since(con, stamp)
    shrunk = [
        Shrinkage(figure, old, after.get(figure, 0))
        for figure, old in before.items()
        if old - after.get(figure, 0) > old * tolerance_percent / 100 + erased + withdrawn
    ]
    if shrunk:
        raise PublishBlocked(shrunk, tolerance_percent, erased, withdrawn)
    if withdrawn:
        logger.info("publish gate: %d published participations canceled at the source since then", withdrawn)
