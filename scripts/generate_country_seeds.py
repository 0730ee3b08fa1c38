"""Generate the country lookup seeds of the dbt project from maintained libraries.

Writes, deterministically (same library versions -> byte-identical files):

- ``dbt_project/seeds/countries.csv``: one row per country (ISO 3166-1 from pycountry, plus Kosovo
  ``XK`` from country_converter), with UN M49 region / sub-region from country_converter and the
  programme grouping flags defined in ``PROGRAMME_GROUPINGS`` below.
- ``dbt_project/seeds/country_aliases.csv``: ``alias_normalised -> country_code`` built from
  pycountry (name, official_name, common_name, alpha_2, alpha_3) and country_converter
  (name_short, name_official, ISO2, ISO3). Aliases that point at two countries are dropped and
  reported on stderr.
- ``dbt_project/seeds/country_patterns.csv``: country_converter's matching regexes that RE2 (the
  regex engine of DuckDB) accepts, used by dbt only as a fallback for spellings no alias covers
  (e.g. "Lao PDR"). Patterns with look-arounds (not supported by RE2) are left out.

The normalisation of free text (``normalise_country_text``) must stay identical to the dbt macro
``normalise_country_text`` in ``dbt_project/macros/normalise_country_text.sql``:
lower-case, accents stripped, runs of whitespace collapsed to one space, trimmed.

Usage: ``python scripts/generate_country_seeds.py [--check]`` (``--check`` exits 1 when the
committed files differ from what would be generated, without writing).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

import country_converter.country_converter as coco_module
import pycountry

SEEDS_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"

# Programme groupings: these memberships are programme definitions, not library data.
# Source: /work/shared/PROGRAMME.md ("Second phase" and "Related cooperation" sections).
# Keep every membership here, in ISO 3166-1 alpha-2, and nowhere else.
PROGRAMME_GROUPINGS: dict[str, frozenset[str]] = {
    # Second-phase Indo-Pacific focus: Philippines, Indonesia, Fiji, Thailand, Malaysia,
    # Viet Nam, Lao PDR, Brunei Darussalam.
    "is_indo_pacific_focus": frozenset({"PH", "ID", "FJ", "TH", "MY", "VN", "LA", "BN"}),
    # Western Balkans: Albania, Bosnia and Herzegovina, Kosovo, Montenegro, North Macedonia,
    # Serbia.
    "is_western_balkans": frozenset({"AL", "BA", "XK", "ME", "MK", "RS"}),
    # EU candidate countries. PROGRAMME.md names the six Western Balkans as candidates (Kosovo is
    # formally a potential candidate; PROGRAMME.md counts it); the other official candidates are
    # Georgia, Moldova, Türkiye and Ukraine.
    "is_eu_candidate": frozenset({"AL", "BA", "XK", "ME", "MK", "RS", "GE", "MD", "TR", "UA"}),
    # Countries associated to the Digital Europe Programme (EU Cybersecurity Reserve), "e.g.
    # Moldova": EEA (Iceland, Liechtenstein, Norway), Ukraine, Albania, Montenegro,
    # North Macedonia, Serbia, Moldova (association agreements signed 2022-2024).
    "is_digital_europe_associated": frozenset({"IS", "LI", "NO", "UA", "AL", "ME", "MK", "RS", "MD"}),
    # EU cyber dialogues supported with technical expertise: Japan, United Kingdom.
    "is_eu_cyber_dialogue_partner": frozenset({"JP", "GB"}),
    # Working arrangements: Ukraine, United States.
    "is_working_arrangement_partner": frozenset({"UA", "US"}),
    # G7 (Cybersecurity Working Group): Canada, France, Germany, Italy, Japan, United Kingdom,
    # United States.
    "is_g7": frozenset({"CA", "FR", "DE", "IT", "JP", "GB", "US"}),
}

# country_converter's `continent` column spells the M49 region "America"; M49 has no region for
# Antarctica.
_M49_REGION = {"America": "Americas", "Antarctica": ""}
# M49 sub-regions (or intermediate regions, as country_converter's UNregion column gives them)
# that make up M49's "Latin America and the Caribbean".
_LATIN_AMERICA_CARIBBEAN_SUBREGIONS = frozenset({"Caribbean", "Central America", "South America"})

_WHITESPACE = re.compile(r"[\t\n\f\r ]+")  # the same class as RE2's \s used in the dbt macro


def normalise_country_text(value: str) -> str:
    """Lower-case, strip accents, collapse whitespace, trim (mirrors the dbt macro)."""
    decomposed = unicodedata.normalize("NFD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WHITESPACE.sub(" ", stripped.lower()).strip(" ")


def _coco_rows() -> list[dict[str, str]]:
    # Read country_converter's data file with the csv module: the library's own pandas loader
    # turns Namibia's "NA" into a missing value under pandas 3.
    with open(coco_module.COUNTRY_DATA_FILE, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [row for row in rows if not row["obsolete"].strip()]


def _iso2_alternatives(cell: str) -> list[str]:
    """country_converter stores some ISO2 codes as regexes, e.g. ``^GB$|^UK$``."""
    return [part.strip("^$") for part in cell.split("|") if part.strip("^$")]


def build_countries() -> tuple[list[dict[str, str]], dict[str, dict[str, str]]]:
    coco_by_iso3 = {row["ISO3"]: row for row in _coco_rows()}
    countries: dict[str, dict[str, str]] = {}
    coco_by_code: dict[str, dict[str, str]] = {}
    for country in pycountry.countries:
        coco_row = coco_by_iso3.get(country.alpha_3)
        countries[country.alpha_2] = {
            "country_code": country.alpha_2,
            "iso3": country.alpha_3,
            "iso_numeric": country.numeric,
            "country_name": country.name,  # ISO 3166-1 English short name
        }
        if coco_row:
            coco_by_code[country.alpha_2] = coco_row
    # Countries country_converter knows but ISO 3166-1 does not (Kosovo, XK).
    for iso3, row in coco_by_iso3.items():
        codes = _iso2_alternatives(row["ISO2"])
        if any(code in countries for code in codes) or not codes:
            continue
        code = codes[0]
        countries[code] = {
            "country_code": code,
            "iso3": iso3,
            "iso_numeric": row["ISOnumeric"],
            "country_name": row["name_short"],
        }
        coco_by_code[code] = row

    missing = {code for members in PROGRAMME_GROUPINGS.values() for code in members} - countries.keys()
    if missing:
        raise SystemExit(f"programme groupings name unknown country codes: {sorted(missing)}")

    out = []
    for code in sorted(countries):
        base = countries[code]
        coco_row = coco_by_code.get(code, {})
        region = coco_row.get("continent", "")
        region = _M49_REGION.get(region, region)
        subregion = coco_row.get("UNregion", "") if region else ""
        row = {
            "country_code": code,
            "iso3": base["iso3"],
            "iso_numeric": str(int(base["iso_numeric"])).zfill(3) if base["iso_numeric"] else "",
            "country_name": base["country_name"],
            "un_region": region,
            "un_subregion": subregion,
            "is_latin_america_caribbean": _bool(
                region == "Americas" and subregion in _LATIN_AMERICA_CARIBBEAN_SUBREGIONS
            ),
        }
        for flag, members in PROGRAMME_GROUPINGS.items():
            row[flag] = _bool(code in members)
        out.append(row)
    return out, coco_by_code


def _bool(value: bool) -> str:
    return "true" if value else "false"


def build_aliases(
    coco_by_code: dict[str, dict[str, str]],
    known_codes: set[str],
) -> tuple[list[dict[str, str]], list[tuple[str, list[str]]]]:
    candidates: dict[str, set[str]] = defaultdict(set)

    def add(alias: str | None, code: str) -> None:
        if alias:
            normalised = normalise_country_text(alias)
            if normalised:
                candidates[normalised].add(code)

    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name", "alpha_2", "alpha_3"):
            add(getattr(country, attribute, None), country.alpha_2)
    for code, row in coco_by_code.items():
        if code not in known_codes:
            continue
        add(row["name_short"], code)
        add(row["name_official"], code)
        for iso2 in _iso2_alternatives(row["ISO2"]):
            add(iso2, code)
        add(row["ISO3"], code)

    aliases, ambiguous = [], []
    for alias in sorted(candidates):
        codes = sorted(candidates[alias])
        if len(codes) == 1:
            aliases.append({"alias_normalised": alias, "country_code": codes[0]})
        else:
            ambiguous.append((alias, codes))
    return aliases, ambiguous


def build_patterns(coco_by_code: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """country_converter regexes usable by RE2: no look-arounds, back-references or \\Z."""
    unsupported = re.compile(r"\(\?[=!<]|\\[1-9]|\\Z")
    patterns = []
    for code in sorted(coco_by_code):
        pattern = coco_by_code[code]["regex"]
        if not pattern or unsupported.search(pattern):
            continue
        patterns.append({"country_code": code, "pattern": pattern})
    return patterns


def _to_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def generate() -> tuple[dict[str, str], list[tuple[str, list[str]]]]:
    """Return {file name: content} and the ambiguous aliases that were dropped."""
    countries, coco_by_code = build_countries()
    aliases, ambiguous = build_aliases(coco_by_code, {row["country_code"] for row in countries})
    patterns = build_patterns(coco_by_code)
    files = {
        "countries.csv": _to_csv(countries),
        "country_aliases.csv": _to_csv(aliases),
        "country_patterns.csv": _to_csv(patterns),
    }
    return files, ambiguous


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--seeds-dir", type=Path, default=SEEDS_DIR)
    args = parser.parse_args(argv)

    files, ambiguous = generate()
    for alias, codes in ambiguous:
        print(f"dropped ambiguous alias {alias!r} -> {', '.join(codes)}", file=sys.stderr)

    differing = []
    for name, content in files.items():
        path = args.seeds_dir / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != content:
            differing.append(name)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
    if args.check and differing:
        print(f"out of date: {', '.join(differing)}", file=sys.stderr)
        return 1
    print(
        f"{len(files['countries.csv'].splitlines()) - 1} countries, "
        f"{len(files['country_aliases.csv'].splitlines()) - 1} aliases, "
        f"{len(files['country_patterns.csv'].splitlines()) - 1} patterns, "
        f"{len(ambiguous)} ambiguous aliases dropped"
        + ("" if args.check else f"; written: {', '.join(differing) or 'nothing changed'}"),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
