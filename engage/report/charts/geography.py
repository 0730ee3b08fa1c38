"""Where the programme works: a world map of countries engaged and the regional breakdown."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import altair as alt

from engage.report.formatting import jsonable, label, number, percent, phase_label
from engage.report.queries import Row
from engage.report.svg import Chart, render

ANTARCTICA = "010"  # ISO 3166-1 numeric; left off the map, it would take a fifth of its height
MAP_WIDTH, MAP_HEIGHT = 820, 400


@cache
def world() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The 1:110m country polygons (TopoJSON) and dots for the countries too small for them."""
    geo = files("engage.report") / "geo"
    topology = json.loads((geo / "countries-110m.json").read_text(encoding="utf-8"))
    small = json.loads((geo / "small-countries.json").read_text(encoding="utf-8"))["points"]
    return topology, small


def drawn_country_ids() -> set[str]:
    topology, _ = world()
    return {g["id"] for g in topology["objects"]["countries"]["geometries"] if g.get("id")}


def _map_rows(countries: list[Row]) -> list[Row]:
    rows = []
    for country in countries:
        hosted = country["activities_hosted"] > 0
        rows.append(
            {
                **country,
                "role": "hosted activities" if hosted else "beneficiary only",
                "tooltip": (
                    f"{country['country_name']}: {number(country['attendances'])} attendances, "
                    f"hosted {country['activities_hosted']}, beneficiary of {country['activities_benefited']}"
                ),
            }
        )
    return jsonable(rows)


def world_map(countries: list[Row]) -> Chart:
    """Choropleth of attendances by participants' country; hosts outlined; small states as dots."""
    topology, small = world()
    engaged = [c for c in countries if c["is_engaged"]]
    rows = _map_rows(engaged)
    colour = alt.Color(
        "attendances:Q",
        title="Attendances",
        scale=alt.Scale(type="quantize", scheme=alt.SchemeParams("blues", count=5), nice=True),
        legend=alt.Legend(format=",.0f", orient="bottom", direction="horizontal", gradientLength=260),
    )
    lookup = alt.LookupData(
        alt.Data(values=rows),
        key="iso_numeric",
        fields=[
            "country_name",
            "attendances",
            "activities_hosted",
            "activities_benefited",
            "role",
            "tooltip",
        ],
    )
    shapes = alt.NamedData(name="world", format=alt.DataFormat(type="topojson", feature="countries"))
    # Each country is drawn once (the PDF engine pays per point): grey if not engaged, else
    # coloured by attendances, with a dark outline if it hosted an activity.
    stroke = alt.Stroke(
        "role:N",
        title=None,
        scale=alt.Scale(domain=["hosted activities", "beneficiary only"], range=["#1a1a1a", "#ffffff"]),
        legend=alt.Legend(
            orient="bottom",
            symbolType="square",
            symbolFillColor="#9ecae1",
            symbolStrokeWidth=1.5,
            labelLimit=300,
            labelExpr="datum.label == 'hosted activities' ? 'hosted at least one activity'"
            " : 'beneficiary only'",
        ),
    )
    hosted_width = alt.condition("datum.activities_hosted > 0", alt.value(1.1), alt.value(0.4))
    base = (
        alt.Chart(shapes)
        .mark_geoshape(fill="#ececec", stroke="white", strokeWidth=0.4)
        .transform_lookup(lookup="id", from_=lookup)
        .transform_filter(f"datum.id != '{ANTARCTICA}' && !isValid(datum.attendances)")
        .encode(description=alt.value("not engaged"))
    )
    choropleth = (
        alt.Chart(shapes)
        .mark_geoshape()
        .transform_lookup(lookup="id", from_=lookup)
        .transform_filter("isValid(datum.attendances)")
        .transform_calculate(hosts_last="datum.activities_hosted > 0 ? 1 : 0")
        .encode(
            color=colour,
            stroke=stroke,
            strokeWidth=hosted_width,
            order=alt.Order("hosts_last:Q"),  # host outlines on top of their neighbours' white ones
            description="tooltip:N",
        )
    )
    dots_data = [
        {**row, "lon": small[row["iso_numeric"]]["lon"], "lat": small[row["iso_numeric"]]["lat"]}
        for row in rows
        if row["iso_numeric"] in small
    ]
    dots = (
        alt.Chart(alt.Data(values=dots_data))
        .mark_circle(size=45, opacity=1)
        .encode(
            longitude="lon:Q",
            latitude="lat:Q",
            color=colour,
            stroke=alt.Stroke("role:N", legend=None),
            strokeWidth=hosted_width,
            description="tooltip:N",
        )
    )
    hosted = sum(1 for c in engaged if c["activities_hosted"] > 0)
    top = sorted(engaged, key=lambda c: c["attendances"], reverse=True)[:3]
    sentence = (
        f"{len(engaged)} countries engaged: {hosted} hosted at least one activity and "
        f"{len(engaged) - hosted} took part only as beneficiaries. Most attendances came from "
        + ", ".join(f"{c['country_name']} ({number(c['attendances'])})" for c in top)
        + f". {len(dots_data)} engaged countries too small to draw at this scale are shown as dots."
    )
    chart = (
        alt.layer(base, choropleth, dots)
        .project(type="equalEarth")
        .properties(
            width=MAP_WIDTH,
            height=MAP_HEIGHT,
            title=alt.Title(
                "Countries engaged and attendances, whole programme",
                subtitle="Colour: attendances by participants from the country; dark outline: host country",
            ),
        )
    )
    return render(chart, "map", "Countries engaged", sentence, datasets={"world": topology})


def region_chart(regions: list[Row]) -> Chart:
    """Attendances per UN region and programme grouping, side by side per phase."""
    rows = [
        {
            **r,
            "group": label(r["group_name"]),
            "kind": "UN region" if r["group_type"] == "un_region" else "Programme grouping",
            "phase_label": phase_label(r["phase"]),
            "share_text": percent(r["attendance_share"]),
        }
        for r in regions
    ]
    bars = (
        alt.Chart(alt.Data(values=jsonable(rows)))
        .mark_bar()
        .encode(
            y=alt.Y("group:N", title=None, sort=alt.SortField("group")),
            yOffset=alt.YOffset("phase_label:N"),
            x=alt.X(
                "attendance_share:Q", title="Share of the phase's attendances (%)", axis=alt.Axis(format="%")
            ),
            color=alt.Color("phase_label:N", title="Phase"),
        )
        .properties(width=520, height=alt.Step(13))
    )
    text = bars.mark_text(align="left", dx=3, fontSize=10).encode(
        text="share_text:N", color=alt.value("#333")
    )
    chart = (
        alt.layer(bars, text)
        .facet(
            row=alt.Row(
                "kind:N",
                title=None,
                sort="descending",
                header=alt.Header(labelOrient="top", labelAnchor="start", labelFontWeight="bold"),
            )
        )
        .resolve_scale(y="independent")
        .properties(title="Attendances by region and programme grouping, per phase")
    )
    indo = next((r for r in regions if r["group_name"] == "indo_pacific_focus" and r["phase"] == "2"), None)
    balkans = {r["phase"]: r for r in regions if r["group_name"] == "western_balkans"}
    sentence = "Share of each phase's attendances by participants from the region or grouping."
    if indo:
        sentence += (
            f" In phase 2, participants from the Indo-Pacific focus countries made "
            f"{percent(indo['attendance_share'])} of attendances ({number(indo['attendances'])})"
        )
        if "2" in balkans:
            sentence += (
                f"; the Western Balkans {percent(balkans['2']['attendance_share'])} "
                f"({number(balkans['2']['attendances'])})"
            )
        sentence += "."
    return render(chart, "regions", "Regional breakdown", sentence)
