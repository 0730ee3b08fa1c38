"""What the report reads from the published copy: one query per figure, plain rows out.

Only the published, read-only `marts.duckdb` is read (marts, `_published`, and the `_quality_*`
tables publish writes beside them), so `engage report` can rebuild the report anywhere that copy is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

Row = dict[str, Any]
# Every mart the report reads (the dbt exposure `programme_report` lists the same).
REQUIRED_TABLES = (
    "mart_programme_kpis",
    "mart_programme_kpis_by_phase",
    "mart_country_engagement",
    "mart_country_recent_engagement",
    "mart_region_focus",
    "mart_indicators",
    "mart_expert_pool_activation",
    "mart_stakeholder_engagement",
    "dim_country",
    "dim_activity",
    "fct_participation",
    "fct_activity_outcome",
    "fct_survey_response",
    "fct_assistance_request",
)
PHASE_ORDER = "case dimension_value when 'all' then 'z' else dimension_value end"
# The outcome shown for each Kirkpatrick level, and how it is summarised.
LEVEL_MEASURES = {
    "reaction": "satisfaction",
    "learning": "knowledge_gain",
    "behaviour": "skills_applied",
    "results": "organisational_change",
}


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Row]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() and table_name = ?",
        [name],
    ).fetchone()
    return bool(found and found[0])


def missing_tables(database: Path) -> list[str]:
    """The marts the report needs that this published copy lacks (a partial or older build)."""
    with duckdb.connect(str(database), read_only=True) as con:
        return [name for name in REQUIRED_TABLES if not has_table(con, name)]


def published_version(con: duckdb.DuckDBPyConnection) -> Row:
    if not has_table(con, "_published"):
        return {"version": "unpublished", "published_at": None}
    return fetch(con, "select version, published_at from _published")[0]


def headline(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Headline figures per phase and for the whole programme (`phase` = '1', '2', ..., 'all')."""
    return fetch(
        con,
        f"""select dimension_value as phase, activities, attendances, participants,
                   female_attendances, male_attendances, countries_engaged, experts_in_pool,
                   experts_deployed, stakeholders_in_network, stakeholders_engaged,
                   first_activity_date, last_activity_date
            from mart_programme_kpis where dimension in ('phase', 'all') order by {PHASE_ORDER}""",
    )


def countries(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Every country engaged or sending participants: attendances and activities hosted / benefited."""
    return fetch(
        con,
        """select dim_country.country_code, dim_country.iso_numeric, dim_country.country_name,
                  dim_country.un_region, dim_country.is_indo_pacific_focus, dim_country.is_western_balkans,
                  coalesce(sum(engagement.attendances), 0)::bigint as attendances,
                  coalesce(sum(engagement.activities_hosted), 0)::bigint as activities_hosted,
                  coalesce(sum(engagement.activities_benefited), 0)::bigint as activities_benefited,
                  coalesce(dim_country.engaged_activity_count, 0) > 0 as is_engaged
           from dim_country
           left join mart_country_engagement as engagement
               on dim_country.country_code = engagement.country_code
           group by all
           having is_engaged or attendances > 0
           order by attendances desc, dim_country.country_name""",
    )


def regions(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return fetch(
        con,
        """select group_type, group_name, phase, activities, attendances, participants,
                  female_attendances, countries_engaged, attendance_share
           from mart_region_focus order by group_type desc, group_name, phase""",
    )


def focus_countries(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Indo-Pacific focus and Western Balkans countries: the last 12 months, inactive for 6."""
    return fetch(
        con,
        """select case when is_indo_pacific_focus then 'Indo-Pacific focus' else 'Western Balkans' end
                      as grouping,
                  country_name, activities_engaged_12_months, participants_12_months,
                  last_engaged_date, is_inactive_6_months, reference_date
           from mart_country_recent_engagement
           where is_indo_pacific_focus or is_western_balkans
           order by grouping, country_name""",
    )


def activities_by_quarter(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return fetch(
        con,
        """select date_trunc('quarter', start_date) as quarter, activity_type, count(*) as activities
           from dim_activity where start_date is not null group by all order by quarter, activity_type""",
    )


def attendances_by_quarter(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return fetch(
        con,
        """select date_trunc('quarter', dim_activity.start_date) as quarter, dim_activity.activity_type,
                  count(*) as attendances
           from fct_participation
           inner join dim_activity on fct_participation.activity_id = dim_activity.activity_id
           where fct_participation.is_attended and dim_activity.start_date is not null
           group by all order by quarter, activity_type""",
    )


def outcomes(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Per activity type and Kirkpatrick level: the level's outcome and its respondents.

    Shares are favourable respondents over respondents; knowledge gain is the respondent-weighted
    mean of (after - before) on the rescaled 0-1 score, so partners' different scales compare.
    """
    return fetch(
        con,
        """with outcome as (
               select dim_activity.activity_type, fct_activity_outcome.*
               from fct_activity_outcome
               inner join dim_activity on fct_activity_outcome.activity_id = dim_activity.activity_id
           ),
           shares as (
               select activity_type, kirkpatrick_level, measure,
                      sum(favourable_respondents) / nullif(sum(respondents), 0) as value,
                      sum(respondents)::bigint as respondents, count(*) as activities
               from outcome
               where measure in ('satisfaction', 'skills_applied', 'organisational_change')
               group by all
           ),
           knowledge as (
               select after.activity_type, 'learning' as kirkpatrick_level, 'knowledge_gain' as measure,
                      sum((after.mean_score_normalised - before.mean_score_normalised) * after.respondents)
                          / nullif(sum(after.respondents), 0) as value,
                      sum(after.respondents)::bigint as respondents, count(*) as activities
               from outcome as after
               inner join outcome as before
                   on after.activity_id = before.activity_id and before.measure = 'knowledge_before'
               where after.measure = 'knowledge_after'
               group by all
           )
           select * from shares union all select * from knowledge
           order by activity_type, kirkpatrick_level""",
    )


def expert_activation(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return fetch(con, "select * from mart_expert_pool_activation order by reference_date")


def stakeholders(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return fetch(
        con,
        """select organisation_name, stakeholder_type, country_code, activities_engaged,
                  last_engaged_date, days_since_last_engagement, is_engaged_3_plus,
                  is_dormant_12_months, reference_date
           from mart_stakeholder_engagement
           order by activities_engaged desc, organisation_name""",
    )


def assistance(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return fetch(
        con,
        """select request_code, requester_organisation, topic, requested_date, answered_date,
                  days_to_response, request_status, is_answered
           from fct_assistance_request order by requested_date, request_code""",
    )


def indicators(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return fetch(con, "select * from mart_indicators order by indicator_code")


def survey_checks(con: duckdb.DuckDBPyConnection) -> Row:
    return fetch(
        con,
        """select count(*) as responses,
                  count(*) filter (where activity_id is null) as unlinked_responses,
                  count(*) filter (where not is_complete) as incomplete_responses,
                  coalesce(sum(out_of_range_answer_count), 0)::bigint as out_of_range_answers,
                  coalesce(sum(unparseable_answer_count), 0)::bigint as unparseable_answers
           from fct_survey_response""",
    )[0]


def quality_table(con: duckdb.DuckDBPyConnection, name: str) -> list[Row] | None:
    """A `_quality_*` table publish wrote, or None when the copy predates them."""
    return fetch(con, f"select * from main.{name}") if has_table(con, name) else None


@dataclass
class ReportData:
    """Everything the report shows, read in one read-only connection (one consistent version)."""

    version: Row
    headline: list[Row]
    countries: list[Row]
    regions: list[Row]
    focus_countries: list[Row]
    activities_by_quarter: list[Row]
    attendances_by_quarter: list[Row]
    outcomes: list[Row]
    expert_activation: list[Row]
    stakeholders: list[Row]
    assistance: list[Row]
    indicators: list[Row]
    survey_checks: Row
    quality: dict[str, list[Row] | None] = field(default_factory=dict)


def read_report_data(database: Path) -> ReportData:
    with duckdb.connect(str(database), read_only=True) as con:
        return ReportData(
            version=published_version(con),
            headline=headline(con),
            countries=countries(con),
            regions=regions(con),
            focus_countries=focus_countries(con),
            activities_by_quarter=activities_by_quarter(con),
            attendances_by_quarter=attendances_by_quarter(con),
            outcomes=outcomes(con),
            expert_activation=expert_activation(con),
            stakeholders=stakeholders(con),
            assistance=assistance(con),
            indicators=indicators(con),
            survey_checks=survey_checks(con),
            quality={
                name: quality_table(con, name)
                for name in (
                    "_quality_streams",
                    "_quality_quarantine",
                    "_quality_unmapped_questions",
                    "_quality_erasures",
                )
            },
        )
