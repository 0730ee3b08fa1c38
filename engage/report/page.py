"""The report page: every chart and table of the published copy in one self-contained HTML file."""

from __future__ import annotations

from importlib.resources import files

import jinja2

from engage.report.charts import activity, geography, network
from engage.report.formatting import NONE, day, moment, number
from engage.report.history import Snapshot
from engage.report.queries import ReportData, Row
from engage.report.svg import Chart
from engage.report.tables import headline_table, indicator_rows, network_tables, quality_section

TEMPLATES = files("engage.report") / "templates"
# The marts behind each chart (also the exposure's depends_on in dbt_project/models/marts/reporting/).
SOURCES = {
    "map": "mart_country_engagement, dim_country",
    "regions": "mart_region_focus",
    "activities": "dim_activity",
    "attendances": "fct_participation, dim_activity",
    "gender": "mart_programme_kpis",
    "outcomes": "fct_activity_outcome, dim_activity",
    "experts": "mart_expert_pool_activation",
    "stakeholders": "mart_stakeholder_engagement",
    "assistance": "fct_assistance_request, mart_indicators (target)",
    "indicators": "mart_indicators",
}


def build_charts(data: ReportData) -> dict[str, Chart]:
    target_days = next(
        (i["target"] for i in data.indicators if i["measure"] == "median_days_to_response"), None
    )
    charts = [
        geography.world_map(data.countries),
        geography.region_chart(data.regions),
        activity.activities_over_time(data.activities_by_quarter, data.headline),
        activity.attendances_over_time(data.attendances_by_quarter, data.headline),
        activity.gender_split(data.headline),
        activity.outcomes_chart(data.outcomes, [r["activity_type"] for r in data.activities_by_quarter]),
        network.expert_activation(data.expert_activation),
        network.stakeholder_chart(data.stakeholders),
        network.assistance_chart(data.assistance, target_days),
        network.indicator_chart(data.indicators),
    ]
    return {chart.key: chart for chart in charts}


def _focus(data: ReportData) -> tuple[list[dict[str, object]], str]:
    rows = [
        {
            **c,
            "activities": number(c["activities_engaged_12_months"]),
            "participants": number(c["participants_12_months"]),
            "last": day(c["last_engaged_date"]),
        }
        for c in data.focus_countries
    ]
    inactive = [c["country_name"] for c in data.focus_countries if c["is_inactive_6_months"]]
    sentence = (
        f"Of the {len(rows)} Indo-Pacific focus and Western Balkans countries, "
        f"{len(rows) - len(inactive)} took part in an activity in the last 6 months"
        + (f"; no activity for 6 months: {', '.join(inactive)}." if inactive else ".")
    )
    return rows, sentence


def render_unavailable(version: Row, missing: list[str]) -> str:
    """A page saying which marts are missing, for a published copy the report cannot be drawn from."""
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string((TEMPLATES / "unavailable.html.j2").read_text(encoding="utf-8"))
    return template.render(
        css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
        version=version["version"],
        published_text=moment(version["published_at"]),
        missing=missing,
    )


def render_page(
    data: ReportData, charts: dict[str, Chart], before: Snapshot | None, *, for_print: bool = False
) -> str:
    """The page; `for_print`: charts as SVG images rather than inline SVG (for the PDF engine)."""
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string((TEMPLATES / "report.html.j2").read_text(encoding="utf-8"))
    focus, focus_sentence = _focus(data)
    whole = next((r for r in data.headline if r["phase"] == "all"), None)
    reference = data.stakeholders[0]["reference_date"] if data.stakeholders else None
    geometry = geography.world()[0].get("source", {})
    return template.render(
        css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
        version=data.version["version"],
        published_text=moment(data.version["published_at"]),
        data_until=day(whole["last_activity_date"]) if whole else NONE,
        reference_date=day(reference),
        previous=before,
        previous_text=f"version {before.version}, {moment(before.published_at)}" if before else "",
        headline=headline_table(data.headline, before),
        charts=charts,
        for_print=for_print,
        sources=SOURCES,
        focus=focus,
        focus_sentence=focus_sentence,
        network=network_tables(data),
        indicators=indicator_rows(data.indicators),
        quality=quality_section(data),
        geometry_source=geometry.get("package", ""),
    )
