"""The programme report: the headline figures, drawn from the published marts after each refresh."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

KPI_TABLE = "mart_programme_kpis_by_phase"  # one row per phase and `all`: the headline


def read_kpis(database: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows of the KPI mart, read from a published (read-only) database."""
    with duckdb.connect(str(database), read_only=True) as con:
        cursor = con.execute(f"select * from main.{KPI_TABLE} order by 1")
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()


def _cell(value: Any) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def render_markdown(columns: list[str], rows: list[tuple[Any, ...]], version: str) -> str:
    header = "| " + " | ".join(c.replace("_", " ") for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "# Programme report: headline figures",
            "",
            f"Published {generated}, version `{version}`. Computed by the pipeline from the partner",
            "systems' raw records; one row per programme phase and one for the whole programme.",
            "",
            header,
            rule,
            *body,
            "",
        ]
    )


def write_report(database: Path, published: Path, version: str) -> Path:
    """Write `report.md` beside the published files, atomically."""
    columns, rows = read_kpis(database)
    target = published / "report.md"
    temporary = published / f".report.md.{version}.tmp"
    temporary.write_text(render_markdown(columns, rows, version), encoding="utf-8")
    os.replace(temporary, target)
    return target
