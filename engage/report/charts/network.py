"""The programme's people and partners: expert pool, stakeholders, rapid assistance, indicators."""

from __future__ import annotations

import statistics

import altair as alt

from engage.report.formatting import day, jsonable, label, number, percent, phase_label
from engage.report.queries import Row
from engage.report.svg import Chart, render

WIDE = 760
MET, NOT_MET = "#009E73", "#D55E00"


def expert_activation(rows: list[Row]) -> Chart:
    data = []
    for row in rows:
        when = (
            f"{day(row['reference_date'])} (latest)"
            if row["is_latest_reference"]
            else str(row["reference_date"].year)
        )
        data.append({"when": when, "what": "In the pool", "experts": row["experts_in_pool"], "share": ""})
        data.append(
            {
                "when": when,
                "what": "Deployed in the 12 months before",
                "experts": row["experts_deployed_12_months"],
                "share": percent(row["activation_share"]),
            }
        )
    order = [d["when"] for d in data[::2]]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X(
            "when:N",
            title="Reference date (year end, and the latest activity)",
            sort=order,
            axis=alt.Axis(labelAngle=0),
        ),
        xOffset=alt.XOffset("what:N", sort=["In the pool", "Deployed in the 12 months before"]),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("experts:Q", title="Experts"),
        color=alt.Color(
            "what:N",
            title=None,
            sort=["In the pool", "Deployed in the 12 months before"],
            legend=alt.Legend(labelLimit=300),
            scale=alt.Scale(range=["#56B4E9", "#0072B2"]),
        ),
    )
    text = base.mark_text(dy=-6, fontSize=10, color="#333").encode(y="experts:Q", text="share:N")
    latest = next((r for r in rows if r["is_latest_reference"]), rows[-1] if rows else None)
    sentence = "No expert pool figures yet."
    if latest:
        sentence = (
            f"On {day(latest['reference_date'])}, {number(latest['experts_deployed_12_months'])} of "
            f"the {number(latest['experts_in_pool'])} experts in the pool "
            f"({percent(latest['activation_share'])}) had been deployed at least once in the "
            "previous 12 months"
        )
        best = max(rows, key=lambda r: r["activation_share"] or 0)
        sentence += (
            f"; the highest share was {percent(best['activation_share'])} ({day(best['reference_date'])})."
        )
    chart = alt.layer(bars, text).properties(width=WIDE - 60, height=220, title="Expert pool activation")
    return render(chart, "experts", "Expert pool activation", sentence)


def stakeholder_chart(rows: list[Row], top: int = 12) -> Chart:
    leaders = [
        {
            "name": r["organisation_name"],
            "activities": r["activities_engaged"],
            "state": "Dormant (none in the last 12 months)"
            if r["is_dormant_12_months"]
            else "Engaged in the last 12 months",
        }
        for r in rows[:top]
        if r["activities_engaged"]
    ]
    chart = (
        alt.Chart(alt.Data(values=leaders))
        .mark_bar()
        .encode(
            y=alt.Y("name:N", title=None, sort="-x", axis=alt.Axis(labelLimit=330)),
            x=alt.X("activities:Q", title="Activities engaged in (organising or taking part)"),
            color=alt.Color(
                "state:N",
                title=None,
                scale=alt.Scale(
                    domain=["Engaged in the last 12 months", "Dormant (none in the last 12 months)"],
                    range=["#0072B2", "#999999"],
                ),
                legend=alt.Legend(labelLimit=300),
            ),
        )
        .properties(
            width=WIDE - 380, height=alt.Step(18), title=f"The {len(leaders)} most engaged stakeholders"
        )
    )
    total = len(rows)
    three = sum(1 for r in rows if r["is_engaged_3_plus"])
    dormant = sum(1 for r in rows if r["is_dormant_12_months"])
    never = sum(1 for r in rows if not r["activities_engaged"])
    reference = rows[0]["reference_date"] if rows else None
    sentence = (
        f"{three} of {total} stakeholders engaged in three or more activities; {dormant} were not engaged "
        f"in the 12 months to {day(reference)}, {never} of them never."
    )
    return render(chart, "stakeholders", "Stakeholder engagement", sentence)


def assistance_chart(rows: list[Row], target_days: float | None) -> Chart:
    answered = [r for r in rows if r["days_to_response"] is not None]
    data = [{**r, "status": label(r["request_status"])} for r in jsonable(answered)]
    bars = (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            x=alt.X("days_to_response:Q", bin=alt.Bin(step=5), title="Days from request to response"),
            y=alt.Y("count():Q", title="Requests"),
            color=alt.Color("status:N", title="Status"),
        )
    )
    median = statistics.median(r["days_to_response"] for r in answered) if answered else None
    marks = []
    if median is not None:
        marks.append({"days": median, "text": f"median {number(median)} days", "y": 0})
    if target_days is not None:
        marks.append({"days": target_days, "text": f"target {number(target_days)} days", "y": 14})
    rules = alt.Chart(alt.Data(values=marks)).mark_rule(strokeDash=[4, 3], color="#333").encode(x="days:Q")
    notes = rules.mark_text(align="left", dx=4, baseline="top", fontSize=10).encode(
        text="text:N",
        y=alt.Y("y:Q", scale=None, axis=None),  # pixels: the two labels one under the other
    )
    open_requests = len(rows) - len(answered)
    sentence = (
        f"{len(answered)} of {len(rows)} rapid-assistance requests have a response; "
        + (
            f"the median time to respond was {number(median)} days"
            if median is not None
            else "none answered yet"
        )
        + (f" against a target of {number(target_days)}" if target_days is not None else "")
        + f". {open_requests} still open."
    )
    chart = alt.layer(bars, rules, notes).properties(
        width=WIDE - 160, height=200, title="Rapid-assistance response times"
    )
    return render(chart, "assistance", "Rapid-assistance response times", sentence)


def indicator_chart(rows: list[Row]) -> Chart:
    """Progress towards each target (actual as a share of the way from baseline to target)."""
    data = [
        {
            "indicator": f"{r['indicator_code']} {r['indicator_name']} ({phase_label(r['phase']).lower()})",
            "progress": min(r["progress_share"] or 0, 1.5),
            "state": "Met" if r["is_target_met"] else "Not met",
            "text": percent(r["progress_share"]),
        }
        for r in rows
    ]
    order = [d["indicator"] for d in data]
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("indicator:N", title=None, sort=order, axis=alt.Axis(labelLimit=420))
    )
    bars = base.mark_bar().encode(
        x=alt.X(
            "progress:Q",
            title="Progress towards target (100 % = target reached)",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1.5], nice=False),
        ),
        color=alt.Color(
            "state:N", title=None, scale=alt.Scale(domain=["Met", "Not met"], range=[MET, NOT_MET])
        ),
    )
    text = base.mark_text(align="left", dx=3, fontSize=10).encode(x="progress:Q", text="text:N")
    target = alt.Chart(alt.Data(values=[{"x": 1}])).mark_rule(color="#333").encode(x="x:Q")
    met = sum(1 for r in rows if r["is_target_met"])
    sentence = f"{met} of {len(rows)} indicators have met their target." + (
        " Not met: "
        + "; ".join(
            f"{r['indicator_code']} {r['indicator_name']} ({percent(r['progress_share'])} of the way)"
            for r in rows
            if not r["is_target_met"]
        )
        + "."
        if met < len(rows)
        else ""
    )
    chart = alt.layer(bars, target, text).properties(
        width=WIDE - 400, height=alt.Step(20), title="Results framework: progress towards target"
    )
    return render(chart, "indicators", "Results framework", sentence)
