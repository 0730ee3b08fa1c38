"""Build the programme report from a published copy: report.md, report.html and report.pdf.

Everything comes from one read-only connection to the published database (and the headline
history beside it), so the report of a version can be rebuilt at any time with `engage report`.
Each file is written aside and renamed over the old one: a reader never sees half a report.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from engage.report import history
from engage.report.kpis import write_report
from engage.report.page import build_charts, render_page, render_unavailable
from engage.report.pdf import html_to_pdf
from engage.report.queries import has_table, headline, missing_tables, published_version, read_report_data

log = logging.getLogger(__name__)
HTML_FILE, PDF_FILE = "report.html", "report.pdf"


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    pdf: Path | None
    version: str
    seconds: float  # wall time of the whole build
    stages: dict[str, float] = field(default_factory=dict)  # read, charts, html, pdf: seconds each


def _replace(target: Path, content: bytes) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, target)


def build_report(database: Path, published: Path, *, pdf: bool = True) -> ReportFiles:
    """Write the report of the version in `database` into `published` (the folder of report.md)."""
    stages: dict[str, float] = {}
    started = lap = time.perf_counter()

    def done(stage: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        stages[stage], lap = now - lap, now

    published.mkdir(parents=True, exist_ok=True)
    missing = missing_tables(database)
    if missing:
        return _build_unavailable(database, published, missing, started)
    data = read_report_data(database)
    version = data.version["version"]
    before = history.previous(history.read_history(published), version)
    done("read")
    charts = build_charts(data)
    done("charts")
    html = render_page(data, charts, before)
    _replace(published / HTML_FILE, html.encode("utf-8"))
    done("html")
    pdf_path = None
    if pdf:
        pdf_path = published / PDF_FILE
        _replace(pdf_path, html_to_pdf(render_page(data, charts, before, for_print=True)))
        done("pdf")
    markdown = write_report(database, published, version)
    seconds = time.perf_counter() - started
    log.info("report of version %s built in %.1f s (%s)", version, seconds, _stages_text(stages))
    return ReportFiles(markdown, published / HTML_FILE, pdf_path, version, seconds, stages)


def _build_unavailable(database: Path, published: Path, missing: list[str], started: float) -> ReportFiles:
    """Marts are missing (a partial build): a page that says which, in HTML and PDF, and report.md."""
    with duckdb.connect(str(database), read_only=True) as con:
        version = published_version(con)
    log.warning("report of version %s: marts missing, no charts: %s", version["version"], ", ".join(missing))
    html = render_unavailable(version, missing)
    _replace(published / HTML_FILE, html.encode("utf-8"))
    _replace(published / PDF_FILE, html_to_pdf(html))
    markdown = write_report(database, published, version["version"])
    seconds = time.perf_counter() - started
    return ReportFiles(markdown, published / HTML_FILE, published / PDF_FILE, version["version"], seconds)


def _stages_text(stages: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stages.items())


def record_published(database: Path, published: Path) -> None:
    """Remember the headline figures of the version now published (for the next report's changes)."""
    with duckdb.connect(str(database), read_only=True) as con:
        if not has_table(con, "mart_programme_kpis"):
            return  # a partial copy has no headline figures to compare the next version with
        meta, rows = published_version(con), headline(con)
    published_at = meta["published_at"].isoformat() if meta["published_at"] else None
    history.record(published, history.snapshot(meta["version"], published_at, rows))
