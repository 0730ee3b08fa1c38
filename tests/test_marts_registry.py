"""Registry marts end to end: simulator (pretix) + registry demo files -> pipeline -> marts.

Every expected figure is computed here in Python from the simulator's and the registry
generator's own data, never typed in.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from engage.config import PipelineConfig
from simulator import pretix_data, registry_files
from tests.demo_warehouse import DemoWarehouse

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("demo_warehouse")]


@pytest.fixture(scope="module")
def marts(demo_warehouse: DemoWarehouse) -> PipelineConfig:
    return demo_warehouse.config


@pytest.fixture(scope="module")
def events() -> list[dict]:
    """The simulator's non-testmode events (the activities)."""
    return [e for e in pretix_data.generate().events if not e["testmode"]]


def _query(config: PipelineConfig, sql: str) -> list[tuple]:
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _codes(value: str) -> set[str]:
    return {c.strip() for c in value.split(";") if c.strip()}


def _day(event: dict) -> date:
    """The event's local start date (pretix writes date_from in UTC, whatever its timezone)."""
    start = datetime.fromisoformat(event["date_from"])
    return start.astimezone(ZoneInfo(event["timezone"])).date()


def _expert_joined_dates() -> dict[str, date]:
    """Joined date per valid expert code, read back from the demo export files."""
    experts, _ = pretix_data._registry_roster()
    return experts


def _requests(inbox: Path) -> list[dict[str, str]]:
    text = (inbox / "assistance_requests_2025-06-30.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    # the extractor quarantines an answered request without an answered date
    return [r for r in rows if not (r["Status"] == "answered" and not r["Answered date"])]


def test_the_dimensions_hold_the_registry(marts: PipelineConfig) -> None:
    experts = _query(marts, "select count(*), count(distinct expert_code) from dim_expert")[0]
    stakeholders = _query(marts, "select count(*) from dim_stakeholder")[0][0]
    assert experts == (registry_files.EXPERTS_TOTAL, registry_files.EXPERTS_TOTAL)
    assert stakeholders == registry_files.STAKEHOLDERS_TOTAL
    unresolved = _query(
        marts,
        """select (select count(*) from dim_expert where home_country_code is null),
                  (select count(*) from dim_stakeholder where country_code is null),
                  (select count(*) from fct_assistance_request where requester_country_code is null)""",
    )[0]
    assert unresolved == (0, 0, 0)


def test_every_deployment_joins_an_expert_and_an_activity(marts: PipelineConfig, events: list[dict]) -> None:
    total, joined = _query(
        marts,
        """select count(*), count(dim_expert.expert_id) filter (where dim_activity.activity_id is not null)
           from fct_expert_deployment
           left join dim_expert using (expert_id)
           left join dim_activity using (activity_id)""",
    )[0]
    expected = sum(len(_codes(e["meta_data"]["experts"])) for e in events)
    assert total == joined == expected > 0


def test_activation_share_is_computed_from_the_data(marts: PipelineConfig, events: list[dict]) -> None:
    rows = _query(
        marts,
        """select reference_date, experts_in_pool, experts_deployed_12_months, activation_share
           from mart_expert_pool_activation where is_latest_reference""",
    )
    assert len(rows) == 1
    reference, pool_size, deployed_count, share = rows[0]
    joined = _expert_joined_dates()
    assert reference == max(_day(e) for e in events)
    window_start = reference.replace(year=reference.year - 1)
    pool = {code for code, day in joined.items() if day <= reference}
    deployed = {
        code
        for e in events
        if window_start < _day(e) <= reference
        for code in _codes(e["meta_data"]["experts"])
        if code in pool
    }
    assert (pool_size, deployed_count) == (len(pool), len(deployed))
    assert 0 < share < 1
    assert share == pytest.approx(len(deployed) / len(pool))
    shares = _query(
        marts, "select min(activation_share), max(activation_share) from mart_expert_pool_activation"
    )
    assert 0 <= shares[0][0] <= shares[0][1] <= 1


def test_stakeholders_engaged_in_three_or_more_activities(marts: PipelineConfig, events: list[dict]) -> None:
    per_stakeholder: dict[str, set[str]] = defaultdict(set)
    for event in events:
        for code in _codes(event["meta_data"]["organisers"]):
            per_stakeholder[code].add(event["slug"])
    expected = sum(1 for slugs in per_stakeholder.values() if len(slugs) >= 3)
    found = _query(marts, "select count(*) from mart_stakeholder_engagement where is_engaged_3_plus")[0][0]
    assert found == expected > 0
    reference = max(_day(e) for e in events)
    window_start = reference.replace(year=reference.year - 1)
    last: dict[str, date] = {}
    for event in events:
        for code in _codes(event["meta_data"]["organisers"]):
            last[code] = max(last.get(code, date.min), _day(event))
    _, stakeholders = pretix_data._registry_roster()
    dormant = sum(1 for s in stakeholders if last.get(s[0], date.min) <= window_start)
    found = _query(marts, "select count(*) from mart_stakeholder_engagement where is_dormant_12_months")[0][0]
    assert found == dormant


def test_median_days_to_respond_per_requester(marts: PipelineConfig, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    registry_files.write_inbox(inbox)
    days: dict[str, list[int]] = defaultdict(list)
    for row in _requests(inbox):
        if row["Answered date"]:
            delta = date.fromisoformat(row["Answered date"]) - date.fromisoformat(row["Requested date"])
            days[row["Requester"]].append(delta.days)
    expected = {requester: float(statistics.median(values)) for requester, values in days.items()}
    found = dict(
        _query(
            marts,
            """select requester_organisation, median(days_to_response)
               from fct_assistance_request
               where days_to_response is not null
               group by requester_organisation""",
        )
    )
    assert found == pytest.approx(expected)
    assert len(expected) > 1


def test_mapped_projects_sit_beside_activities_per_country(marts: PipelineConfig) -> None:
    rows = _query(
        marts,
        """select p.country_code, count(distinct p.mapped_project_id) as mapped_projects,
                  (select count(distinct a.activity_id) from bridge_activity_country a
                   where a.country_code = p.country_code) as activities
           from bridge_mapped_project_country p
           group by p.country_code""",
    )
    projects = _query(
        marts, "select count(*), count(*) filter (where country_count = 0) from dim_mapped_project"
    )
    assert projects[0] == (registry_files.PROJECTS_TOTAL, 0)
    assert rows and all(n > 0 for _, n, _ in rows) and any(a > 0 for *_, a in rows)
