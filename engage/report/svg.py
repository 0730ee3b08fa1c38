"""Vega-Lite specs (built with Altair) to static, accessible SVG, offline.

vl-convert runs Vega-Lite and Vega in an embedded JavaScript engine and returns the SVG string,
so the report needs no JavaScript in the browser and no network: `allowed_base_urls=[]` makes
any spec that would fetch data fail instead of reaching out. Each SVG gets a <title> and <desc>
(role="img", aria-labelledby) and its element ids prefixed, since several charts share one page.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from typing import Any

import altair as alt
import vl_convert as vlc

FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
# One look for every chart: the palette is colour-blind safe (Okabe-Ito, wine for its black).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999", "#882255"]
CONFIG: dict[str, Any] = {
    "font": FONT,
    "background": "white",
    "view": {"stroke": None},
    "title": {"fontSize": 14, "anchor": "start", "subtitleColor": "#555", "subtitleFontSize": 11},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "titleColor": "#333", "gridColor": "#e6e6e6"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "bottom", "direction": "horizontal"},
    "range": {"category": PALETTE},
    "numberFormat": ",.0f",
}
_ID = re.compile(r'\bid="([^"]+)"')


@dataclass(frozen=True)
class Chart:
    """One rendered chart: its key (figure id), the sentence that states it, and the SVG."""

    key: str
    title: str
    sentence: str
    svg: str

    @property
    def data_uri(self) -> str:
        """The SVG as an image URL: for the PDF, whose engine then draws it apart from the page's
        CSS (much faster than inline SVG, whose every element would take part in the cascade)."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")


def _namespace_ids(svg: str, prefix: str) -> str:
    ids = set(_ID.findall(svg))
    for found in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f'id="{found}"', f'id="{prefix}-{found}"')
        svg = svg.replace(f"url(#{found})", f"url(#{prefix}-{found})")
        svg = svg.replace(f'href="#{found}"', f'href="#{prefix}-{found}"')
    return svg


def _label(svg: str, prefix: str, key: str, title: str, description: str) -> str:
    """role="img" with <title> and <desc> as the first children, for screen readers."""
    start = svg.index("<svg")
    end = svg.index(">", start)
    opening = svg[start:end]
    opening = re.sub(r'\s(role|aria-label|aria-labelledby)="[^"]*"', "", opening)
    labelled = f'{opening} role="img" aria-labelledby="{prefix}-title {prefix}-desc" data-chart="{key}">'
    children = (
        f'<title id="{prefix}-title">{html.escape(title)}</title>'
        f'<desc id="{prefix}-desc">{html.escape(description)}</desc>'
    )
    return svg[:start] + labelled + children + svg[end + 1 :]


def render(
    chart: alt.TopLevelMixin,
    key: str,
    title: str,
    sentence: str,
    datasets: dict[str, Any] | None = None,
) -> Chart:
    """Render one Altair chart to an inline-ready SVG; `sentence` is its text alternative.

    `datasets`: large named data (the world geometry) added to the spec after Altair built it,
    since Altair walks every value it holds (seconds for a TopoJSON file).
    """
    # No schema validation (a tenth of a second a chart): vl-convert rejects a bad spec anyway.
    spec = chart.to_dict(validate=False)
    spec.setdefault("description", sentence)
    if datasets:
        spec.setdefault("datasets", {}).update(datasets)
    svg = vlc.vegalite_to_svg(spec, config=CONFIG, allowed_base_urls=[], format_locale="en-GB")
    prefix = f"chart-{key}"  # unique on the page, and apart from the page's own ids
    svg = _namespace_ids(svg, prefix)
    return Chart(key, title, sentence, _label(svg, prefix, key, title, sentence))
