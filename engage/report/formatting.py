"""How the report writes numbers, shares, dates and codes (one place, so text and tables agree)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

NONE = "\u2013"  # an en dash, for a figure that does not exist
MINUS = "\u2212"
LABELS = {
    "un_region": "UN region",
    "indo_pacific_focus": "Indo-Pacific focus",
    "latin_america_caribbean": "Latin America and Caribbean",
    "western_balkans": "Western Balkans",
    "eu_candidate": "EU candidates",
    "digital_europe_associated": "Digital Europe associated",
    "eu_cyber_dialogue_partner": "EU cyber dialogue partners",
    "working_arrangement_partner": "Working-arrangement partners",
    "g7": "G7",
    "csirt": "CSIRT",
    "eu_institution": "EU institution",
    "rapid_assistance_mission": "Rapid-assistance mission",
    "all": "Whole programme",
}


def label(code: str | None) -> str:
    """`advisory_mission` -> `Advisory mission`; known codes have their own wording."""
    if code is None:
        return "unknown"
    if code in LABELS:
        return LABELS[code]
    text = code.replace("_", " ")
    return text[:1].upper() + text[1:]


def phase_label(phase: str) -> str:
    return LABELS["all"] if phase == "all" else f"Phase {phase}"


def number(value: float | int | None) -> str:
    if value is None:
        return NONE
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def percent(share: float | None, digits: int = 0) -> str:
    return NONE if share is None else f"{share * 100:.{digits}f} %"


def signed(change: int) -> str:
    return f"+{change:,}" if change > 0 else f"{MINUS}{abs(change):,}" if change < 0 else "±0"


def day(value: date | datetime | str | None) -> str:
    if value is None:
        return NONE
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%-d %b %Y")


def moment(value: datetime | str | None) -> str:
    if value is None:
        return NONE
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%-d %b %Y %H:%M UTC")


def jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as chart data: dates as ISO text, decimals as floats."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return float(value)
        return value

    return [{key: plain(value) for key, value in row.items()} for row in rows]
