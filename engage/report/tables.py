"""The report's tables and their sentences: headline figures with changes, indicators, data quality."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from engage.report.formatting import NONE, day, label, moment, number, percent, phase_label, signed
from engage.report.history import FIGURES, Snapshot
from engage.report.queries import ReportData, Row

FIGURE_NAMES = {
    "activities": "Activities delivered",
    "attendances": "Attendances (people checked in)",
    "participants": "Participants (distinct people)",
    "female_attendances": "… of them by women",
    "countries_engaged": "Countries engaged",
    "experts_in_pool": "Experts in the pool",
    "experts_deployed": "Expert deployments",
    "stakeholders_in_network": "Stakeholders in the network",
    "stakeholders_engaged": "Stakeholders engaged",
}


def headline_table(headline: list[Row], before: Snapshot | None) -> dict[str, Any]:
    phases = [row["phase"] for row in headline]
    rows = []
    for figure in FIGURES:
        cells = []
        for row in headline:
            value = int(row[figure] or 0)
            old = before.phases.get(row["phase"], {}).get(figure) if before else None
            change = None if old is None else value - int(old)
            cells.append(
                {
                    "phase": row["phase"],
                    "value": value,
                    "text": number(value),
                    "change": signed(change) if change else None,  # only figures that moved
                    "direction": "up" if change and change > 0 else "down" if change and change < 0 else "",
                }
            )
        rows.append({"key": figure, "name": FIGURE_NAMES[figure], "cells": cells})
    return {
        "phases": [phase_label(p) for p in phases],
        "rows": rows,
        "sentence": headline_sentence(headline, before),
    }


def headline_sentence(headline: list[Row], before: Snapshot | None) -> str:
    parts = []
    for row in headline:
        if row["phase"] == "all":
            continue
        parts.append(
            f"{phase_label(row['phase'])} ({day(row['first_activity_date'])} to "
            f"{day(row['last_activity_date'])}): "
            f"{number(row['activities'])} activities, {number(row['attendances'])} attendances by "
            f"{number(row['participants'])} participants from {number(row['countries_engaged'])} countries"
        )
    whole = next((r for r in headline if r["phase"] == "all"), None)
    text = "; ".join(parts) + "."
    if whole:
        text += (
            f" The pool counts {number(whole['experts_in_pool'])} experts and the network "
            f"{number(whole['stakeholders_in_network'])} stakeholder organisations."
        )
    if before is None:
        return text + " This is the first published version with recorded headline figures."
    changes = []
    for figure in (
        "activities",
        "attendances",
        "countries_engaged",
        "experts_in_pool",
        "stakeholders_in_network",
    ):
        old = before.phases.get("all", {}).get(figure)
        if whole and old is not None and int(whole[figure] or 0) != int(old):
            changes.append(
                f"{FIGURE_NAMES[figure].split(' (')[0].lower()} {signed(int(whole[figure]) - int(old))}"
            )
    since = f"since the previous version ({moment(before.published_at)})"
    if not changes:
        return text + f" No headline figure changed {since}."
    return text + f" Changes {since}, whole programme: " + ", ".join(changes) + "."


def indicator_rows(rows: list[Row]) -> list[dict[str, Any]]:
    def value(amount: float | None, unit: str) -> str:
        if amount is None:
            return NONE
        return percent(amount) if unit == "share" else number(amount)

    out = []
    for r in rows:
        split = ""
        if r["is_gender_disaggregated"] and r["actual_female"] is not None:
            total = (r["actual_female"] or 0) + (r["actual_male"] or 0)
            share = r["actual_female"] / total if total else None
            split = (
                f"women {number(r['actual_female'])}, men {number(r['actual_male'])} ({percent(share)} women)"
            )
        out.append(
            {
                "code": r["indicator_code"],
                "name": r["indicator_name"],
                "definition": r["definition"],
                "phase": phase_label(r["phase"]),
                "unit": "%" if r["unit"] == "share" else r["unit"],
                "baseline": value(r["baseline"], r["unit"]),
                "target": ("≤ " if r["direction"] == "decrease" else "") + value(r["target"], r["unit"]),
                "actual": value(r["actual_value"], r["unit"]),
                "split": split,
                "met": bool(r["is_target_met"]),
            }
        )
    return out


def _age(later: datetime | None, earlier: datetime | None) -> str:
    if later is None or earlier is None:
        return NONE
    minutes = max((later - earlier).total_seconds() / 60, 0)
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.0f} days"


def quality_section(data: ReportData) -> dict[str, Any]:
    published_at = data.version.get("published_at")
    streams = data.quality.get("_quality_streams")
    quarantine = data.quality.get("_quality_quarantine")
    unmapped = data.quality.get("_quality_unmapped_questions")
    erased = (data.quality.get("_quality_erasures") or [{}])[0]
    stream_rows = [
        {
            **s,
            "last_extracted": moment(s["last_extracted_at"]),
            "age": _age(published_at, s["last_extracted_at"]),
            "flag": bool(s["mismatched_load_days"]),
        }
        for s in streams or []
    ]
    quarantined = sum(q["records"] for q in quarantine or [])
    by_source = Counter()
    for q in quarantine or []:
        by_source[q["source_instance"]] += q["records"]
    checks = data.survey_checks
    if streams is None:
        sentence = (
            "This published copy predates the data-quality tables: republish to see extraction, "
            "quarantine and item-map figures."
        )
    else:
        sources = len({s["source_instance"] for s in streams})
        oldest = max(stream_rows, key=lambda s: s["last_extracted_at"] or published_at, default=None)
        sentence = (
            f"{sources} sources, {len(streams)} streams. {number(quarantined)} records were quarantined"
            + (
                " (" + ", ".join(f"{n} from {src}" for src, n in by_source.most_common()) + ")"
                if by_source
                else ""
            )
            + f"; {len(unmapped or [])} survey questions are missing from the item map."
        )
        if erased.get("erasures"):
            sentence += (
                f" {number(erased['erasures'])} people were erased on request (latest "
                f"{moment(erased['last_erased_at'])}); figures can fall by what they contributed."
            )
        if oldest and oldest["last_extracted_at"]:
            sentence += (
                f" The stream whose latest batch is oldest is {oldest['source_instance']}/{oldest['stream']} "
                f"({oldest['age']} before this version)."
            )
    return {
        "available": streams is not None,
        "streams": stream_rows,
        "quarantine": [{**q, "last": moment(q["last_quarantined_at"])} for q in quarantine or []],
        "unmapped": unmapped or [],
        "survey": checks,
        "sentence": sentence,
    }


def network_tables(data: ReportData) -> dict[str, Any]:
    by_type: dict[str, Counter[str]] = {}
    for s in data.stakeholders:
        counts = by_type.setdefault(label(s["stakeholder_type"]), Counter())
        counts["total"] += 1
        counts["three"] += bool(s["is_engaged_3_plus"])
        counts["dormant"] += bool(s["is_dormant_12_months"])
        counts["never"] += not s["activities_engaged"]
    types = [{"type": t, **c} for t, c in sorted(by_type.items(), key=lambda item: -item[1]["total"])]
    dormant = [
        {**s, "last": day(s["last_engaged_date"])}
        for s in sorted(
            (s for s in data.stakeholders if s["is_dormant_12_months"] and s["activities_engaged"]),
            key=lambda s: s["activities_engaged"],
            reverse=True,
        )[:10]
    ]
    requesters: dict[str, list[Row]] = {}
    for request in data.assistance:
        requesters.setdefault(request["requester_organisation"], []).append(request)
    repeat = [
        {
            "organisation": name,
            "requests": len(found),
            "answered": sum(1 for r in found if r["days_to_response"] is not None),
        }
        for name, found in sorted(requesters.items(), key=lambda item: -len(item[1]))
        if len(found) > 1
    ]
    return {"types": types, "dormant": dormant, "repeat_requesters": repeat}
