"""What the `engage` command prints: progress, the run summary, the KPI table, the report files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from engage.config import PipelineConfig
    from engage.pipeline import RunSummary
    from engage.report.build import ReportFiles

# Wide enough for the summary tables when output goes to a file or CI log rather than a terminal.
console = Console(width=None if sys.stdout.isatty() else 140)


def run_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def run_with_progress(config: PipelineConfig, only_source: str | None, **options: bool) -> RunSummary:
    """`run_pipeline` with a live line per stream (records so far), the stage and dbt's nodes."""
    from engage.pipeline import configured_streams, run_pipeline
    from engage.warehouse.publish_gate import PublishBlocked

    with run_progress() as progress:
        tasks = {
            key: progress.add_task(f"extract {key[0]}/{key[1]}", detail="0 records", total=None)
            for key in configured_streams(config, only_source)
        }
        counts = dict.fromkeys(tasks, 0)
        stage_task = progress.add_task("pipeline", detail="starting", total=None)
        dbt_task = progress.add_task("dbt build", detail="waiting", total=None)
        dbt_done = {"nodes": 0}

        def on_dbt_node(name: str, status: str) -> None:
            dbt_done["nodes"] += 1
            progress.update(dbt_task, detail=f"{dbt_done['nodes']} nodes, last: {name} {status}")

        def on_page(source: str, stream: str, n: int) -> None:
            counts[(source, stream)] += n
            progress.update(tasks[(source, stream)], detail=f"{counts[(source, stream)]:,} records")

        try:
            summary = run_pipeline(
                config,
                only_source=only_source,
                on_stage=lambda stage: progress.update(stage_task, detail=stage),
                on_extract_page=on_page,
                on_dbt_node=on_dbt_node,
                **options,
            )
        except PublishBlocked:
            progress.update(stage_task, detail="publish blocked")
            raise
        progress.update(stage_task, detail="done")
    return summary


def print_summary(summary: RunSummary) -> None:
    table = Table(title="Records per stream")
    numbers = ("source count", "received", "extracted", "loaded", "quarantined")
    for column in ("source", "stream", *numbers, "note"):
        table.add_column(column, justify="right" if column in numbers else "left")
    for entry in summary.streams.values():
        counted = entry.source_count is not None
        table.add_row(
            entry.source_instance,
            entry.stream,
            f"{entry.source_count:,}" if counted else "-",
            f"{entry.source_received:,}" if counted else "-",
            f"{entry.extracted:,}",
            f"{entry.loaded:,}",
            f"{entry.quarantined:,}",
            entry.note,
        )
    console.print(table)
    if summary.dbt_nodes:
        passed = sum(1 for n in summary.dbt_nodes if n.status in {"success", "pass"})
        console.print(f"dbt: {len(summary.dbt_nodes)} nodes, {passed} succeeded or passed")
    if summary.survey_forms:
        forms = Table(title="Survey responses per form (landed -> fct_survey_response)")
        for column in ("source", "form", "form key", "landed", "not approved", "reached", "missing"):
            forms.add_column(column, justify="left" if column in {"source", "form", "form key"} else "right")
        for f in summary.survey_forms:
            counts = (f.landed, f.not_approved, f.reached, f.missing)
            key = f.form_key or "(not listed)"
            forms.add_row(f.source_instance, f.form_id, key, *(f"{n:,}" for n in counts))
        console.print(forms)
    stale = [item for item in summary.freshness if item.is_stale]
    if summary.freshness:
        console.print(f"source freshness: {len(summary.freshness)} streams checked, {len(stale)} stale")
        for item in stale:
            console.print(f"  [yellow]{item.line()}[/yellow]")


def print_kpis(database: Path) -> None:
    from engage.report.kpis import read_kpis

    columns, rows = read_kpis(database)
    table = Table(title=f"Programme KPIs (from {database})")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    for row in rows:
        table.add_row(*("" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    console.print(table)


def print_report(files: ReportFiles) -> None:
    pdf = f", {files.pdf}" if files.pdf else ""
    console.print(f"report: {files.html}{pdf} (built in {files.seconds:.1f} s)")
