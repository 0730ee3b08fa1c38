"""The demo programme's 97 first-phase countries and the spellings organisers type for them.

Spellings come only from pycountry and country_converter (the downstream country seed is built
from the same libraries), so every spelling here can be normalised back by those libraries.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import country_converter as coco
import pycountry

# Programme regions -> ISO 3166-1 alpha-2 codes (Kosovo uses the user-assigned XK).
REGIONS: dict[str, tuple[str, ...]] = {
    "Asia and Pacific": (
        # Indo-Pacific focus first
        "PH", "ID", "FJ", "TH", "MY", "VN", "LA", "BN",
        "JP", "KR", "IN", "SG", "LK", "BD", "NP", "PK", "MN", "KH", "TL", "PG", "WS", "TO",
        "VU", "MV", "BT",
    ),
    "Western Balkans and Türkiye": ("AL", "BA", "XK", "ME", "MK", "RS", "TR"),
    "Eastern Partnership and Central Asia": (
        "UA", "MD", "GE", "AM", "AZ", "KZ", "UZ", "KG", "TJ",
    ),
    "Latin America and Caribbean": (
        "DO", "CR", "GT", "MX", "CO", "PE", "CL", "AR", "BR", "EC", "PA", "HN", "SV", "JM",
        "TT", "BB", "BS", "UY", "PY", "BO", "GY", "SR", "BZ",
    ),
    "Africa": (
        "NG", "KE", "GH", "SN", "ZA", "EG", "MA", "TN", "RW", "ET", "UG", "TZ", "CI", "CM",
        "BW", "MU", "ZM", "BJ", "MZ", "NA", "DZ", "CV", "GM", "SC",
    ),
    "Middle East": ("JO", "LB", "AE", "QA", "SA", "OM", "BH"),
    "Global": ("US", "GB"),
}  # fmt: skip

INDO_PACIFIC_FOCUS: tuple[str, ...] = ("PH", "ID", "FJ", "TH", "MY", "VN", "LA", "BN")
WESTERN_BALKANS: tuple[str, ...] = ("AL", "BA", "XK", "ME", "MK", "RS")

PHASE1_COUNTRIES: tuple[str, ...] = tuple(c for codes in REGIONS.values() for c in codes)
REGION_OF: dict[str, str] = {c: region for region, codes in REGIONS.items() for c in codes}

assert len(PHASE1_COUNTRIES) == 97 == len(set(PHASE1_COUNTRIES)), "the demo uses 97 countries"


@lru_cache(maxsize=1)
def converter() -> coco.CountryConverter:
    """A country_converter instance that also loads under pandas 3.

    country_converter 1.3.2 reads its data file so that under pandas 3 Namibia's "NA" becomes
    NaN and the constructor raises; reading the file with keep_default_na=False avoids that.
    """
    try:
        return coco.CountryConverter()
    except TypeError:
        import pandas as pd
        from country_converter import country_converter as module
        from pandas._libs.parsers import STR_NA_VALUES

        strings = ("name_short", "name_official", "regex", "ISO2", "ISO3", "continent")
        strings += ("UNregion", "EXIO1", "EXIO2", "EXIO3", "WIOD")
        ints = ("ISOnumeric", "UNcode", "FAOcode", "GBDcode", "EURO", "UN", "UNmember")
        ints += ("obsolete", "GEOnumeric")
        frame = pd.read_csv(
            module.COUNTRY_DATA_FILE,
            sep="\t",
            encoding="utf-8",
            converters=dict.fromkeys(strings, str),
            keep_default_na=False,
            na_values=STR_NA_VALUES - {"NA"},
        )
        frame = frame.astype({col: "Int64" for col in frame.columns if col in ints})
        return coco.CountryConverter(country_data=frame)


def to_iso2(values: list[str]) -> list[str]:
    """Normalise spellings to ISO2 with country_converter ("not found" for unknown ones)."""
    result = converter().convert(values, to="ISO2", not_found="not found")
    return result if isinstance(result, list) else [result]


@lru_cache(maxsize=1)
def spellings() -> dict[str, tuple[str, ...]]:
    """ISO2 -> the spellings the libraries produce for it: names first, then ISO2 and ISO3.

    Only spellings country_converter maps back to the same ISO2 are kept, so a consumer that
    normalises with the same libraries always recovers the country.
    """
    codes = list(PHASE1_COUNTRIES)
    short_names = converter().convert(codes, src="ISO2", to="name_short")
    iso3_codes = converter().convert(codes, src="ISO2", to="ISO3")
    candidates: dict[str, list[str]] = {}
    for iso2, short_name, iso3 in zip(codes, short_names, iso3_codes, strict=True):
        names: list[str] = [short_name]
        country = pycountry.countries.get(alpha_2=iso2)
        if country is not None:
            for attr in ("name", "common_name", "official_name"):
                value = getattr(country, attr, None)
                if value:
                    names.append(value)
            names += [country.alpha_2, country.alpha_3]
        else:  # not in ISO 3166 (Kosovo): country_converter's codes
            names += [iso2, iso3]
        candidates[iso2] = list(dict.fromkeys(names))
    flat = [name for names in candidates.values() for name in names]
    # unmatched candidates are expected here and dropped: keep the library's warnings quiet
    coco_log = logging.getLogger(coco.country_converter.__name__)
    level = coco_log.level
    coco_log.setLevel(logging.ERROR)
    try:
        mapped = dict(zip(flat, to_iso2(flat), strict=True))
    finally:
        coco_log.setLevel(level)
    return {iso2: tuple(n for n in names if mapped[n] == iso2) for iso2, names in candidates.items()}


def display_name(iso2: str) -> str:
    """country_converter's short name, used for locations and organisation names."""
    return spellings()[iso2][0]
