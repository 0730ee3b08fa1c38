"""What the programme delivered over time, who attended, and what they got out of it."""

from __future__ import annotations

from collections import defaultdict

import altair as alt

from engage.report.formatting import jsonable, label, number, percent, phase_label
from engage.report.queries import LEVEL_MEASURES, Row
from engage.report.svg import Chart, render

WIDE = 760
SMALL_SAMPLE = 30  # respondents: below this an outcome is shown, but marked as a small sample
LEVEL_TITLES = {
    "reaction": "Reaction: satisfied",
    "learning": "Learning: knowledge gain",
    "behaviour": "Behaviour: skills applied",
    "results": "Results: organisational change",
}


def _phase_two_start(headline: list[Row]) -> str | None:
    phase_two = next((r for r in headline if r["phase"] == "2"), None)
    return (
        phase_two["first_activity_date"].isoformat()
        if phase_two and phase_two["first_activity_date"]
        else None
    )


def _by_quarter(
    rows: list[Row], measure: str, title: str, unit: str, phase_two: str | None
) -> alt.LayerChart:
    data = [{**r, "type": label(r["activity_type"])} for r in jsonable(rows)]
    bars = (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            x=alt.X(
                "yearquarter(quarter):O",
                title="Quarter of the activity's start",
                axis=alt.Axis(labelAngle=-60, labelOverlap=True),
            ),
            y=alt.Y(f"sum({measure}):Q", title=unit),
            color=alt.Color("type:N", title="Activity type", legend=alt.Legend(columns=4, labelLimit=200)),
            order=alt.Order("type:N"),
        )
    )
    layers: list[alt.Chart] = [bars]
    if phase_two:
        marker = alt.Data(values=[{"quarter": phase_two, "text": "phase 2 starts"}])
        rule = alt.Chart(marker).mark_rule(color="#333", strokeDash=[4, 3]).encode(x="yearquarter(quarter):O")
        note = rule.mark_text(align="left", dx=4, dy=-4, baseline="top", fontSize=10).encode(
            text="text:N", y=alt.value(0)
        )
        layers += [rule, note]
    return alt.layer(*layers).properties(width=WIDE, height=220, title=title)


def activities_over_time(rows: list[Row], headline: list[Row]) -> Chart:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["activity_type"]] += row["activities"]
    busiest = max(_quarter_totals(rows, "activities").items(), key=lambda item: item[1], default=None)
    common = sorted(totals.items(), key=lambda item: item[1], reverse=True)[:3]
    sentence = f"{number(sum(totals.values()))} activities, most of them " + ", ".join(
        f"{label(kind).lower()}s ({number(n)})" for kind, n in common
    )
    if busiest:
        sentence += f"; the busiest quarter was {_quarter_name(busiest[0])} with {number(busiest[1])}."
    chart = _by_quarter(
        rows, "activities", "Activities per quarter, by type", "Activities", _phase_two_start(headline)
    )
    return render(chart, "activities", "Activities over time", sentence)


def attendances_over_time(rows: list[Row], headline: list[Row]) -> Chart:
    quarters = _quarter_totals(rows, "attendances")
    busiest = max(quarters.items(), key=lambda item: item[1], default=None)
    sentence = f"{number(sum(quarters.values()))} attendances (people checked in at an activity)"
    if busiest:
        sentence += f"; the most in {_quarter_name(busiest[0])}: {number(busiest[1])}."
    chart = _by_quarter(
        rows,
        "attendances",
        "Attendances per quarter, by activity type",
        "Attendances",
        _phase_two_start(headline),
    )
    return render(chart, "attendances", "Attendances over time", sentence)


def _quarter_totals(rows: list[Row], measure: str) -> dict[object, int]:
    totals: dict[object, int] = defaultdict(int)
    for row in rows:
        totals[row["quarter"]] += row[measure]
    return totals


def _quarter_name(start: object) -> str:
    year, month = start.year, start.month  # type: ignore[attr-defined]
    return f"{year} Q{(month - 1) // 3 + 1}"


def gender_split(headline: list[Row]) -> Chart:
    """Women, men and other or undisclosed as shares of each phase's attendances (100 % bars)."""
    order = ["Women", "Men", "Other or undisclosed"]
    rows = []
    for row in headline:
        other = row["attendances"] - row["female_attendances"] - row["male_attendances"]
        start = 0.0
        for gender, count in zip(
            order, (row["female_attendances"], row["male_attendances"], other), strict=True
        ):
            share = count / row["attendances"] if row["attendances"] else 0.0
            rows.append(
                {
                    "phase": phase_label(row["phase"]),
                    "gender": gender,
                    "attendances": count,
                    "start": start,
                    "end": start + share,
                    "middle": start + share / 2,
                    "text": percent(share) if share >= 0.06 else "",
                }
            )
            start += share
    phases = [phase_label(r["phase"]) for r in headline]
    base = alt.Chart(alt.Data(values=rows)).encode(y=alt.Y("phase:N", title=None, sort=phases))
    bars = base.mark_bar().encode(
        x=alt.X(
            "start:Q",
            title="Share of attendances (%)",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        x2="end:Q",
        color=alt.Color(
            "gender:N",
            title="Gender",
            sort=order,
            scale=alt.Scale(domain=order, range=["#CC79A7", "#0072B2", "#999999"]),
        ),
    )
    text = base.mark_text(color="white", fontSize=11, fontWeight="bold").encode(x="middle:Q", text="text:N")
    whole = next((r for r in headline if r["phase"] == "all"), headline[-1])

    def women(row: Row) -> str:
        return percent(row["female_attendances"] / row["attendances"] if row["attendances"] else None)

    sentence = (
        f"Women made {women(whole)} of all attendances ({number(whole['female_attendances'])} of "
        f"{number(whole['attendances'])}); "
        + "; ".join(f"{phase_label(r['phase']).lower()}: {women(r)}" for r in headline if r["phase"] != "all")
        + "."
    )
    chart = alt.layer(bars, text).properties(
        width=WIDE - 120, height=alt.Step(28), title="Attendances by gender, per phase"
    )
    return render(chart, "gender", "Gender split", sentence)


def outcomes_chart(outcomes: list[Row], activity_types: list[str]) -> Chart:
    """One cell per activity type and Kirkpatrick level: the outcome, with its respondents.

    A type and level without any response gets a grey "no responses" cell: missing evidence
    stays visible instead of dropping out of the grid.
    """
    rows = []
    for row in outcomes:
        level = row["kirkpatrick_level"]
        if LEVEL_MEASURES.get(level) != row["measure"] or row["value"] is None:
            continue
        gain = row["measure"] == "knowledge_gain"
        value_text = f"{row['value'] * 100:+.0f} pts" if gain else percent(row["value"])
        rows.append(
            {
                "type": label(row["activity_type"]),
                "level": LEVEL_TITLES[level],
                "value": row["value"],
                "text": f"{value_text}  n={row['respondents']}",
                "small": row["respondents"] < SMALL_SAMPLE,
            }
        )
    present = {(r["type"], r["level"]) for r in rows}
    missing = [
        {"type": label(kind), "level": level, "text": "no responses"}
        for kind in sorted(set(activity_types))
        for level in LEVEL_TITLES.values()
        if (label(kind), level) not in present
    ]
    x = alt.X(
        "level:N",
        title=None,
        sort=list(LEVEL_TITLES.values()),
        axis=alt.Axis(orient="top", labelAngle=0, labelLimit=180),
    )
    y = alt.Y("type:N", title=None, sort="ascending")
    base = alt.Chart(alt.Data(values=rows)).encode(x=x, y=y)
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color(
            "value:Q",
            title="Share, or gain in points of the scale",
            # Five steps rather than a gradient: reads as well, and the PDF engine draws no gradients.
            scale=alt.Scale(type="quantize", scheme=alt.SchemeParams("greens", count=5), domain=[0, 1]),
            legend=alt.Legend(format="%", values=[0, 0.25, 0.5, 0.75, 1], gradientLength=220, titleLimit=400),
        ),
        opacity=alt.condition("datum.small", alt.value(0.35), alt.value(1)),
    )
    text = base.mark_text(fontSize=11).encode(
        text="text:N",
        color=alt.condition("datum.value > 0.6 && !datum.small", alt.value("white"), alt.value("#222")),
    )
    gaps = alt.Chart(alt.Data(values=missing)).encode(x=x, y=y)
    gap_cells = gaps.mark_rect(fill="#f2f2f2", stroke="white", strokeWidth=2)
    gap_text = gaps.mark_text(fontSize=10, color="#777", fontStyle="italic").encode(text="text:N")
    small = [r for r in rows if r["small"]]
    strongest = max(
        (r for r in rows if r["level"] == LEVEL_TITLES["reaction"]), key=lambda r: r["value"], default=None
    )
    sentence = "Outcomes on the four Kirkpatrick levels by activity type, each with its respondents (n)."
    if strongest:
        sentence += (
            f" Satisfaction is highest after {strongest['type'].lower()}s ({percent(strongest['value'])})."
        )
    if small:
        sentence += f" {len(small)} cells rest on fewer than {SMALL_SAMPLE} respondents and are shown faded."
    if missing:
        sentence += f" {len(missing)} have no responses at all."
    chart = alt.layer(cells, text, gap_cells, gap_text).properties(
        width=WIDE - 180, height=alt.Step(30), title="Outcomes by activity type"
    )
    return render(chart, "outcomes", "Outcomes on the Kirkpatrick levels", sentence)
