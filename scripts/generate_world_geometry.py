"""Generate the report's world geometry from the `world-atlas` package (Natural Earth TopoJSON).

No PyPI package ships country polygons keyed by ISO code for offline use (vega_datasets fetches
world-110m over the network), so the report carries two small files derived from Mike Bostock's
`world-atlas` (ISC licence; the shapes are Natural Earth's, public domain), whose feature ids are
ISO 3166-1 numeric codes, the `iso_numeric` of `dim_country`:

- ``engage/report/geo/countries-110m.json``: the 1:110m TopoJSON, with an id given to the
  features it leaves without one when `countries.csv` knows them by name (Kosovo: 412).
- ``engage/report/geo/small-countries.json``: a point (lon, lat) for each country too small to be
  drawn at 1:110m (Singapore, Maldives, Tonga, ...), the centroid of its largest polygon at 1:50m,
  so the map can still show it as a dot.

Usage: ``npm pack world-atlas@2.0.2`` (the npm registry), then
``python scripts/generate_world_geometry.py world-atlas-2.0.2.tgz [--check]``.
Deterministic: the same tarball gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GEO_DIR = ROOT / "engage" / "report" / "geo"
COUNTRIES_SEED = ROOT / "dbt_project" / "seeds" / "countries.csv"
WORLD_ATLAS_VERSION = "2.0.2"

Point = tuple[float, float]


def read_member(tarball: Path, name: str) -> dict[str, Any]:
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(f"package/{name}")
        if member is None:
            raise SystemExit(f"{tarball} has no package/{name}")
        return json.load(member)


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """Absolute lon/lat positions of every arc (TopoJSON stores quantised deltas)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_points(ring: list[int], arcs: list[list[Point]]) -> list[Point]:
    points: list[Point] = []
    for index in ring:
        arc = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        points.extend(arc if not points else arc[1:])  # consecutive arcs share their end point
    return points


def ring_centroid(points: list[Point]) -> tuple[float, Point]:
    """(|area|, centroid) of a closed ring, planar in lon/lat: good enough for a small country."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area) < 1e-12:
        xs, ys = zip(*points, strict=True)
        return 0.0, (sum(xs) / len(xs), sum(ys) / len(ys))
    return abs(area) / 2, (cx / (3 * area), cy / (3 * area))


def representative_point(geometry: dict[str, Any], arcs: list[list[Point]]) -> Point:
    polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
    outer = [ring_centroid(ring_points(polygon[0], arcs)) for polygon in polygons]
    return max(outer, key=lambda found: found[0])[1]


def seed_ids_by_name() -> dict[str, str]:
    with COUNTRIES_SEED.open(encoding="utf-8") as handle:
        return {row["country_name"]: row["iso_numeric"] for row in csv.DictReader(handle)}


def generate(tarball: Path) -> dict[str, str]:
    """File name -> content of the two geometry files."""
    ids = seed_ids_by_name()
    coarse = read_member(tarball, "countries-110m.json")
    for geometry in coarse["objects"]["countries"]["geometries"]:
        name = geometry["properties"]["name"]
        if geometry.get("id") is None and name in ids:
            geometry["id"] = ids[name]
    drawn = {g.get("id") for g in coarse["objects"]["countries"]["geometries"]}
    fine = read_member(tarball, "countries-50m.json")
    arcs = decode_arcs(fine)
    small = {}
    for geometry in fine["objects"]["countries"]["geometries"]:
        code = geometry.get("id")
        if code is None or code in drawn or geometry["type"] not in {"Polygon", "MultiPolygon"}:
            continue
        lon, lat = representative_point(geometry, arcs)
        small[code] = {"name": geometry["properties"]["name"], "lon": round(lon, 3), "lat": round(lat, 3)}
    source = {
        "package": f"world-atlas@{WORLD_ATLAS_VERSION}",
        "sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
    }
    coarse["source"] = source
    return {
        "countries-110m.json": json.dumps(coarse, separators=(",", ":"), sort_keys=True) + "\n",
        "small-countries.json": json.dumps(
            {"source": source, "points": dict(sorted(small.items()))}, indent=1, sort_keys=True
        )
        + "\n",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path, help="world-atlas-<version>.tgz from `npm pack`")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files differ")
    args = parser.parse_args()
    files = generate(args.tarball)
    stale = [
        n
        for n, text in files.items()
        if not (GEO_DIR / n).is_file() or (GEO_DIR / n).read_text(encoding="utf-8") != text
    ]
    if args.check:
        print("up to date" if not stale else f"stale: {', '.join(stale)}")
        return 1 if stale else 0
    GEO_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (GEO_DIR / name).write_text(text, encoding="utf-8")
    print(f"wrote {', '.join(files)} to {GEO_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
