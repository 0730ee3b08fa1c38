"""Survey outcome marts end to end: simulator (pretix + KoboToolbox + LimeSurvey) -> pipeline -> marts.

Every expected figure is recomputed here in Python from the simulator's own data (the same
deterministic generators the simulator serves), never typed in.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest

from engage.config import PipelineConfig
from simulator import kobo_data, limesurvey_data, pretix_data
from tests.demo_warehouse import PRETIX, DemoWarehouse

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("demo_warehouse")]

NOT_APPROVED = "validation_status_not_approved"  # excluded from outcome figures
SEED_RELATION = '"warehouse"."seeds"."survey_item_map"'


@pytest.fixture(scope="module")
def outcomes(demo_warehouse: DemoWarehouse) -> PipelineConfig:
    mine = [
        n
        for n in demo_warehouse.summary.dbt_nodes
        if any(word in n.name for word in ("survey", "outcome", "knowledge_gain"))
    ]
    assert len(mine) > 30  # the seed, models, unit tests and data tests ran
    assert [n for n in mine if n.status not in ("success", "pass")] == []  # no warning either
    return demo_warehouse.config


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    """The simulator's surveys, as the responses the outcome models keep."""
    dataset = pretix_data.generate()
    kobo = kobo_data.generate(dataset)
    evaluation, follow_up = kobo.surveys[0], kobo.surveys[1]
    ls = limesurvey_data.generate(dataset).surveys

    def kept(asset: kobo_data.KoboAsset) -> list[dict[str, Any]]:
        return [s for s in asset.submissions if s["_validation_status"].get("uid") != NOT_APPROVED]

    return {
        "kobo_evaluations": kept(evaluation),
        "kobo_follow_ups": kept(follow_up),
        "ls_evaluations": ls[limesurvey_data.EVALUATION_SID].responses,
        "ls_follow_ups": ls[limesurvey_data.FOLLOW_UP_SID].responses,
    }


def _query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _a_code(value: str | None) -> int | None:
    return int(value[1:]) if value else None


def _satisfaction_by_slug(demo: dict[str, Any]) -> dict[str, list[float]]:
    """Per activity slug, each response's satisfaction (mean of its satisfaction items)."""
    scores: dict[str, list[float]] = defaultdict(list)
    for s in demo["kobo_evaluations"]:
        value = s.get("evaluation/satisfaction") or s["evaluation/overall_satisfaction"]
        scores[s["activity/activity_code"]].append(float(value))
    for r in demo["ls_evaluations"]:
        items = [_a_code(r[code]) for code in ("SATISF[SQ001]", "SATISF[SQ002]") if r[code]]
        if items:
            scores[r["ACTIVIDAD"].lower()].append(statistics.fmean(items))
    return scores


def test_every_activity_with_mapped_responses_has_outcome_rows(outcomes, demo) -> None:
    slugs = {s["activity/activity_code"] for s in demo["kobo_evaluations"] + demo["kobo_follow_ups"]}
    measure_codes = ("SATISF[SQ001]", "RELEVANCIA", "RECOMIENDA", "CONOCANTES", "APPLIED", "ORGCHANGE")
    slugs |= {
        (r.get("ACTIVIDAD") or r.get("ACTIVITY")).lower()
        for r in demo["ls_evaluations"] + demo["ls_follow_ups"]
        if any(r.get(code) for code in measure_codes)
    }
    rows = _query(outcomes.marts_path, "select distinct activity_id from fct_activity_outcome")
    assert {r[0] for r in rows} == {f"{PRETIX}:{slug}" for slug in slugs}
    levels = _query(outcomes.marts_path, "select distinct kirkpatrick_level from fct_activity_outcome")
    assert {r[0] for r in levels} == {"reaction", "learning", "behaviour", "results"}


def test_mean_satisfaction_of_an_activity_equals_the_simulators(outcomes, demo) -> None:
    scores = _satisfaction_by_slug(demo)
    ls_slugs = {r["ACTIVIDAD"].lower() for r in demo["ls_evaluations"]}
    # the LAC4 activity with the most responses: answered in both KoboToolbox and LimeSurvey
    slug = max((s for s in scores if s in ls_slugs), key=lambda s: (len(scores[s]), s))
    [(respondents, mean_score)] = _query(
        outcomes.marts_path,
        "select respondents, mean_score from fct_activity_outcome "
        f"where activity_id = '{PRETIX}:{slug}' and measure = 'satisfaction'",
    )
    assert respondents == len(scores[slug])
    assert mean_score == pytest.approx(statistics.fmean(scores[slug]))
    # and the programme-wide figure by activity type is one short query away
    by_type = _query(
        outcomes.marts_path,
        "select a.activity_type, sum(o.mean_score * o.respondents) / sum(o.respondents) "
        "from fct_activity_outcome as o inner join dim_activity as a using (activity_id) "
        "where o.measure = 'satisfaction' group by a.activity_type",
    )
    assert all(3 < mean < 5 for _, mean in by_type)


def test_share_of_follow_up_respondents_who_applied_skills_equals_the_simulators(outcomes, demo) -> None:
    applied = [s["followup/skills_applied"] in ("yes", "partly") for s in demo["kobo_follow_ups"]]
    applied += [r["APPLIED"] == "Y" for r in demo["ls_follow_ups"] if r["APPLIED"]]
    [(respondents, share)] = _query(
        outcomes.marts_path,
        "select sum(respondents), sum(favourable_respondents) / sum(respondents) "
        "from fct_activity_outcome where measure = 'skills_applied'",
    )
    assert respondents == len(applied)
    assert share == pytest.approx(sum(applied) / len(applied))


def test_mean_knowledge_gain_equals_the_simulators(outcomes, demo) -> None:
    gains = [
        int(s["learning/knowledge_after"]) - int(s["learning/knowledge_before"])
        for s in demo["kobo_evaluations"]
    ]
    gains += [
        int(r["CONOCDESPUES"]) - int(r["CONOCANTES"])
        for r in demo["ls_evaluations"]
        if r["CONOCANTES"] and r["CONOCDESPUES"]
    ]
    [(paired, gain)] = _query(
        outcomes.warehouse_path,
        "select count(*), avg(knowledge_gain) from intermediate.int_knowledge_gain_paired",
    )
    assert paired == len(gains)
    assert gain == pytest.approx(statistics.fmean(gains))


def test_every_respondent_who_gave_an_attendees_email_links_to_a_participation(outcomes, demo) -> None:
    # every simulated respondent is a checked-in attendee: all but the anonymous ones link
    kobo = demo["kobo_evaluations"] + demo["kobo_follow_ups"]
    responses = len(kobo) + len(demo["ls_evaluations"]) + len(demo["ls_follow_ups"])
    with_email = sum("respondent/email" in s for s in kobo)
    with_email += sum(
        bool(r.get("CORREO") or r.get("EMAIL")) for r in demo["ls_evaluations"] + demo["ls_follow_ups"]
    )
    [(total, linked, attended)] = _query(
        outcomes.marts_path,
        "select count(*), count(*) filter (where is_linked_to_participation), "
        "count(*) filter (where is_respondent_attended) from fct_survey_response",
    )
    assert (total, linked, attended) == (responses, with_email, with_email)
    assert linked / total > 0.9


def test_the_unmapped_question_check_passes_and_fails_when_an_item_map_row_goes(outcomes) -> None:
    compiled = next(
        (outcomes.warehouse_path.parent / "dbt" / "target" / "compiled").rglob(
            "int_survey_questions_unmapped.sql"  # the rule assert_survey_questions_mapped applies
        )
    )
    check = compiled.read_text(encoding="utf-8")
    assert SEED_RELATION in check
    with duckdb.connect(str(outcomes.warehouse_path), read_only=True) as con:
        assert con.execute(check).fetchall() == []
        con.execute(
            "create temp table trimmed_item_map as select * from seeds.survey_item_map "
            "where question_code <> 'evaluation/overall_satisfaction'"
        )
        rows = con.execute(check.replace(SEED_RELATION, "temp.main.trimmed_item_map")).fetchall()
    # survey_system, source_instance, form_key, form_id, form_version_id, question_code, answer_count
    assert [(r[0], r[2], r[5]) for r in rows] == [
        ("kobotoolbox", "kobo_post_activity", "evaluation/overall_satisfaction")
    ]
    assert rows[0][6] > 0  # with its answer count


def test_every_landed_response_of_an_outcome_form_reaches_fct_survey_response(
    outcomes, demo_warehouse: DemoWarehouse, demo
) -> None:
    """The run summary's per-form coverage: nothing landed goes missing, and the counts are the
    simulator's (not approved KoboToolbox submissions are the one stated exclusion)."""
    forms = demo_warehouse.summary.survey_forms
    assert forms and all(f.missing == 0 for f in forms), forms
    reached = {f.form_key: f.reached for f in forms if f.form_key != "(none)"}
    assert reached == {
        "kobo_post_activity": len(demo["kobo_evaluations"]),
        "kobo_follow_up": len(demo["kobo_follow_ups"]),
        "limesurvey_post_activity_es": len(demo["ls_evaluations"]),
        "limesurvey_follow_up_en": len(demo["ls_follow_ups"]),
    }
