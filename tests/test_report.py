"""The programme report in a real browser and as PDF, against the demo warehouse's published copy.

The demo's publish has built report.html and report.pdf. Chromium (Debian's, driven by
Playwright; `scripts/install_browser.sh` installs it) opens the HTML with the network cut off
and every request but the file itself refused: no console error, no failed request, every chart
drawn, the map showing exactly the engaged countries, the headline figures equal to the marts.
Screenshots land in the test's tmp folder (and in docs/img with ENGAGE_REPORT_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml
from pypdf import PdfReader
from typer.testing import CliRunner

from engage.config import PipelineConfig
from engage.report import history
from engage.report.build import build_report
from engage.report.queries import REQUIRED_TABLES
from tests.conftest import PROJECT_ROOT, write_config
from tests.demo_warehouse import DemoWarehouse

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("demo_warehouse")]

CHROMIUM = Path("/usr/bin/chromium")
CHARTS = {
    "map", "regions", "activities", "attendances", "gender",
    "outcomes", "experts", "stakeholders", "assistance", "indicators",
}  # fmt: skip
EXPOSURES = PROJECT_ROOT / "dbt_project" / "models" / "marts" / "reporting" / "_reporting__exposures.yml"
DOCS_IMG = PROJECT_ROOT / "docs" / "img"


def _rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def published(demo_warehouse: DemoWarehouse) -> PipelineConfig:
    """The demo's published copy (read it, never change it: other modules share it)."""
    failed = [n for n in demo_warehouse.summary.dbt_nodes if n.status not in {"success", "pass"}]
    assert not failed, failed
    return demo_warehouse.config


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run runs scripts/install_browser.sh before the tests")
        pytest.skip("chromium is missing: run scripts/install_browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], timeout=60_000
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page_run(published: PipelineConfig, browser, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """report.html opened offline: the page, and what the browser reported while loading it."""
    report = published.published_dir / "report.html"
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    seen: dict[str, list[str]] = {"console_errors": [], "page_errors": [], "failed": [], "requests": []}
    document = report.as_uri()

    def route(request_route) -> None:
        url = request_route.request.url
        seen["requests"].append(url)
        if url == document:
            request_route.continue_()
        else:
            request_route.abort()  # nothing but the file itself may load

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and seen["console_errors"].append(m.text))
    page.on("pageerror", lambda e: seen["page_errors"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    page.goto(document, wait_until="load", timeout=60_000)
    shots = tmp_path_factory.mktemp("report-screenshots")
    page.screenshot(path=shots / "report-top.png")
    page.screenshot(path=shots / "report-full.png", full_page=True)
    for key in ("map", "outcomes", "indicators"):
        page.locator(f"#fig-{key}").screenshot(path=shots / f"report-{key}.png")
    if os.environ.get("ENGAGE_REPORT_SCREENSHOTS"):  # refresh the README's pictures
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        for name in ("report-top.png", "report-map.png", "report-outcomes.png", "report-indicators.png"):
            shutil.copyfile(shots / name, DOCS_IMG / name)
    yield {"page": page, "seen": seen, "shots": shots, "html": report.read_text(encoding="utf-8")}
    context.close()


def test_publish_writes_the_report_beside_the_marts(published: PipelineConfig) -> None:
    folder = published.published_dir
    for name in ("report.html", "report.pdf", "report.md", history.HISTORY_FILE):
        assert (folder / name).stat().st_size > 0, name
    [(version,)] = _rows(published.marts_path, "select version from _published")
    assert [entry.version for entry in history.read_history(folder)][-1] == version
    tables = {row[0] for row in _rows(published.marts_path, "select table_name from duckdb_tables()")}
    assert {"_quality_streams", "_quality_quarantine", "_quality_unmapped_questions"} <= tables


def test_the_page_loads_offline_with_no_error_and_no_request(page_run: dict) -> None:
    seen = page_run["seen"]
    assert seen["console_errors"] == [] and seen["page_errors"] == []
    assert seen["failed"] == []
    assert len(seen["requests"]) == 1, seen["requests"]  # the document, nothing else
    # Nothing in the file points outside it: only in-page anchors and data: URLs.
    links = re.findall(r'\b(?:src|href)="([^"]*)"', page_run["html"])
    assert links and all(link.startswith(("#", "data:")) for link in links), links
    assert "<script" not in page_run["html"]


def test_every_chart_is_drawn_with_a_text_alternative(page_run: dict) -> None:
    page = page_run["page"]
    drawn = page.eval_on_selector_all(
        "svg[data-chart]",
        """svgs => svgs.map(svg => {
            const box = svg.getBoundingClientRect();
            return {key: svg.dataset.chart, width: box.width, height: box.height,
                    marks: svg.querySelectorAll('path, rect, circle, line, text').length,
                    role: svg.getAttribute('role'),
                    title: svg.querySelector(':scope > title')?.textContent || '',
                    desc: svg.querySelector(':scope > desc')?.textContent || '',
                    caption: svg.closest('figure')?.querySelector('figcaption')?.textContent || ''};
        })""",
    )
    assert {chart["key"] for chart in drawn} == CHARTS
    for chart in drawn:
        assert chart["width"] > 200 and chart["height"] > 80, chart
        assert chart["marks"] > 10, chart
        assert chart["role"] == "img" and chart["title"] and len(chart["desc"]) > 30, chart
        assert chart["caption"], chart


def test_the_map_shows_exactly_the_engaged_countries(published: PipelineConfig, page_run: dict) -> None:
    engaged = {
        name
        for (name,) in _rows(
            published.marts_path, "select country_name from dim_country where engaged_activity_count > 0"
        )
    }
    labels = page_run["page"].eval_on_selector_all(
        "svg[data-chart=map] [aria-label]", "marks => marks.map(m => m.getAttribute('aria-label'))"
    )
    on_map = {label.split(":")[0] for label in labels if "attendances, hosted" in label}
    assert on_map == engaged
    assert len(engaged) == 97  # the demo's programme figure (PROGRAMME.md)


def test_the_headline_figures_equal_the_marts(published: PipelineConfig, page_run: dict) -> None:
    columns = list(history.FIGURES)  # every figure the headline table shows
    marts = {
        (phase, column): value
        for phase, *values in _rows(
            published.marts_path,
            f"select dimension_value, {', '.join(columns)} from mart_programme_kpis "
            "where dimension in ('phase', 'all')",
        )
        for column, value in zip(columns, values, strict=True)
    }
    cells = page_run["page"].eval_on_selector_all(
        "td[data-figure]",
        "tds => tds.map(td => [td.dataset.phase, td.dataset.figure, td.dataset.value, td.innerText])",
    )
    shown = {(phase, figure): (int(value), text.split()[0]) for phase, figure, value, text in cells}
    assert set(shown) == set(marts)
    for key, value in marts.items():
        assert shown[key] == (value, f"{value:,}"), key
    page_text = page_run["page"].inner_text("#headline")
    assert f"{marts[('1', 'activities')]} activities" in page_text


def test_screenshots_are_saved_for_a_person_to_look_at(page_run: dict) -> None:
    for name in ("report-top.png", "report-full.png", "report-map.png", "report-outcomes.png"):
        assert (page_run["shots"] / name).stat().st_size > 20_000, name


def test_the_pdf_has_the_report_s_pages_and_text(published: PipelineConfig) -> None:
    reader = PdfReader(published.published_dir / "report.pdf")
    assert 8 <= len(reader.pages) <= 30
    text = " ".join(page.extract_text() for page in reader.pages)
    text = re.sub(r"\s+", " ", text)
    headings = ["Headline figures by phase", "Where the programme works", "Results framework", "Data quality"]
    for heading in [*headings, "Outcomes on the four Kirkpatrick levels"]:
        assert heading in text, heading
    [(activities, attendances)] = _rows(
        published.marts_path,
        "select activities, attendances from mart_programme_kpis where dimension = 'all'",
    )
    assert f"{activities:,}" in text and f"{attendances:,}" in text
    codes = [code for (code,) in _rows(published.marts_path, "select indicator_code from mart_indicators")]
    assert codes and all(code in text for code in codes)
    assert f"page {len(reader.pages)} of {len(reader.pages)}" in text


@pytest.fixture
def copy_alone(published: PipelineConfig, tmp_path: Path) -> PipelineConfig:
    """The published database alone in a folder of its own (no warehouse, no landing zone)."""
    from engage.config import load_config

    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/"))
    config.marts_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(published.marts_path, config.marts_path)
    return config


def test_engage_report_rebuilds_the_report_from_the_published_copy_alone(copy_alone: PipelineConfig) -> None:
    from engage.cli import app

    result = CliRunner().invoke(
        app, ["report", "--config", str(copy_alone.marts_path.parent / "pipeline.yml")]
    )
    assert result.exit_code == 0, result.output
    assert not copy_alone.warehouse_path.exists()
    folder = copy_alone.published_dir
    [(version,)] = _rows(copy_alone.marts_path, "select version from _published")
    assert version in (folder / "report.html").read_text(encoding="utf-8")
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF")
    assert [entry.version for entry in history.read_history(folder)] == [version]
    assert "first published version" in (folder / "report.html").read_text(encoding="utf-8")


def test_the_report_states_the_change_since_the_previous_version(copy_alone: PipelineConfig) -> None:
    [(version,)] = _rows(copy_alone.marts_path, "select version from _published")
    rows = _rows(
        copy_alone.marts_path,
        "select dimension_value, activities from mart_programme_kpis where dimension = 'all'",
    )
    older = history.Snapshot(
        "00000000T000000000000Z-000000", "2025-01-01T00:00:00+00:00", {"all": {"activities": rows[0][1] - 2}}
    )
    history.record(copy_alone.published_dir, older)
    files = build_report(copy_alone.marts_path, copy_alone.published_dir, pdf=False)
    html = files.html.read_text(encoding="utf-8")
    assert re.search(
        r'data-phase="all" data-figure="activities"[^>]*>[^<]*<span class="change up">\+2</span>', html
    )
    assert "activities delivered +2" in html
    assert files.version == version and files.pdf is None


def test_the_exposure_lists_every_mart_the_report_reads() -> None:
    exposure = yaml.safe_load(EXPOSURES.read_text(encoding="utf-8"))["exposures"][0]
    listed = {re.fullmatch(r"ref\('(\w+)'\)", ref).group(1) for ref in exposure["depends_on"]}
    report_code = "".join(
        p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "engage" / "report").glob("*.py")
    )
    read = set(re.findall(r"\b((?:dim|fct|mart|bridge)_[a-z_]+)\b", report_code))
    assert read and read <= listed, read - listed
    assert listed == set(REQUIRED_TABLES)
    assert exposure["owner"]["name"]
