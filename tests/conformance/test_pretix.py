"""The real pipeline against a real pretix (`make conformance`; docs/conformance.md).

pretix 2026.8.0 from PyPI on loopback (SQLite, no Celery), seeded through its own models
(tests/conformance/pretix_seed.py holds the scenario), read by the repository's extractor, loaded
and built by dbt like any source. Two rounds: the seeded state, then a new scan on a pending and on
a paid order, a cancellation and a reverted scan. Excluded from `make test` by the `conformance`
marker: the first run installs pretix and migrates its database (minutes).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from engage.config import PipelineConfig, load_config
from engage.pipeline import RunSummary, run_pipeline
from engage.privacy.pseudonymise import Pseudonymiser
from tests.conformance.pretix_server import RUN, PretixServer, prepare
from tests.conftest import write_config

pytestmark = [pytest.mark.conformance, pytest.mark.timeout(3600)]

SOURCE = "pretix_conformance"
TOKEN_ENV = "ENGAGE_CONFORMANCE_PRETIX_TOKEN"
BRU, AKL, HNL = "cf-bru-2026", "cf-akl-2027", "cf-hnl-2026"


@dataclass
class Round:
    summary: RunSummary
    activities: dict[str, dict]
    participations: dict[str, dict]  # by organisation answer ("Org A"): one per person and activity
    kpis: dict[str, dict]  # mart_programme_kpis by (dimension, value) "all:all", "phase:1"
    orders_landed: set[str]  # order codes in the orders batches this round loaded


@dataclass
class Conformance:
    seeded: dict
    changed: dict
    first: Round
    second: Round
    folder: Path
    token: str


def _pipeline_config(folder: Path, api_url: str) -> PipelineConfig:
    source = {
        "kind": "pretix",
        "base_url": api_url,
        "organizer": "ecccn",
        "credentials": {"token_env": TOKEN_ENV},
        # the default streams: attendance comes from the orders' positions[].checkins
        "streams": ["events", "orders"],
    }
    return load_config(write_config(folder, api_url, sources={SOURCE: source}))


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _read_round(config: PipelineConfig, summary: RunSummary, batches_before: set[str]) -> Round:
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        activities = {r["event_slug"]: r for r in _rows(con, "select * from dim_activity")}
        participations = {}
        for row in _rows(
            con,
            "select p.*, a.event_slug from fct_participation p join dim_activity a using (activity_id)",
        ):
            assert row["organisation"] not in participations, row["organisation"]
            participations[row["organisation"]] = row
        kpis = {
            f"{r['dimension']}:{r['dimension_value']}": r
            for r in _rows(con, "select * from mart_programme_kpis where dimension in ('all', 'phase')")
        }
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        landed = con.execute("select batch_id, record_key from raw.pretix__orders").fetchall()
    orders_landed = {key for batch, key in landed if batch not in batches_before}
    return Round(summary, activities, participations, kpis, orders_landed)


def _loaded_batches(config: PipelineConfig) -> set[str]:
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        return {r[0] for r in con.execute("select batch_id from audit.batches").fetchall()}


@pytest.fixture(scope="module")
def conformance() -> Iterator[Conformance]:
    migrated = prepare()  # `make conformance` has done this already; a direct pytest run may not have
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    log_file = RUN / "pipeline.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    token = secrets.token_hex(24)  # lives in pretix's database and this process's environment only
    server = PretixServer(RUN / "pretix")
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(step: str) -> None:
        nonlocal clock
        timings[step] = round(time.monotonic() - clock, 1)
        clock = time.monotonic()

    try:
        server.reset_database(migrated)
        seeded = json.loads(server.seed_script("seed", token))
        lap("seed")
        server.start()
        lap("server start")
        os.environ[TOKEN_ENV] = token
        config = _pipeline_config(RUN, server.api_url)
        first = _read_round(config, run_pipeline(config), set())
        lap("first pipeline run (extract, load, dbt build, publish)")
        before = _loaded_batches(config)
        changed = json.loads(server.seed_script("change", token))
        lap("change")
        second = _read_round(config, run_pipeline(config), before)
        lap("second pipeline run")
        (RUN / "timings.json").write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
        yield Conformance(seeded, changed, first, second, RUN, token)
    finally:
        server.stop()
        os.environ.pop(TOKEN_ENV, None)
        logging.getLogger().removeHandler(handler)
        handler.close()


def _person(label: str) -> str:
    pseudonymiser = Pseudonymiser.from_environment("ENGAGE_PSEUDONYMISATION_KEY", allow_demo_key=True)
    return pseudonymiser.pseudonym(f"{label.lower()}@conformance.example")


# --- activities -------------------------------------------------------------------------------


def test_activities_land_on_their_local_dates(conformance: Conformance) -> None:
    activities = conformance.first.activities
    assert set(activities) == {BRU, AKL, HNL}  # the testmode event is not an activity
    got = {
        slug: (a["start_date"], a["end_date"], a["activity_year"], a["host_country_code"], a["phase"])
        for slug, a in activities.items()
    }
    assert got == {
        BRU: (date(2026, 6, 15), date(2026, 6, 16), 2026, "KE", "1"),
        # 09:00 on 1 January in Auckland is 20:00Z on 31 December: the local date wins
        AKL: (date(2027, 1, 1), date(2027, 1, 2), 2027, "FJ", "2"),
        # 18:00 on 31 December in Honolulu is 04:00Z on 1 January
        HNL: (date(2026, 12, 31), date(2026, 12, 31), 2026, "WS", "2"),
    }
    utc = {slug: a["starts_at"].astimezone().isoformat() for slug, a in activities.items()}
    assert datetime.fromisoformat(utc[AKL]) == datetime.fromisoformat("2026-12-31T20:00:00+00:00")
    assert datetime.fromisoformat(utc[HNL]) == datetime.fromisoformat("2027-01-01T04:00:00+00:00")
    types = {slug: (a["activity_type"], a["modality"]) for slug, a in activities.items()}
    assert types == {
        BRU: ("workshop", "in_person"),
        AKL: ("training", "in_person"),
        HNL: ("webinar", "online"),
    }
    assert activities[BRU]["beneficiary_country_count"] == 2  # "KE;Uganda"
    assert conformance.second.activities.keys() == activities.keys()


# --- attendances, first round -----------------------------------------------------------------

# organisation -> (event, registered, attended). Not there at all: F (order canceled after its
# scan), G2 (position canceled after its scan), K (testmode order), T1 (testmode event).
FIRST = {
    "Org A": (BRU, True, True),
    "Org B": (BRU, True, True),  # entry and exit
    "Org C": (BRU, True, False),  # an exit scan alone is not an attendance
    "Org D": (BRU, True, True),  # pending order scanned on the include_pending list
    "Org E": (BRU, False, False),  # expired order
    "Org G": (BRU, True, True),  # the order's other position was canceled
    "Org H": (BRU, True, True),  # scanned on the second list only
    "Org I": (BRU, True, True),  # scanned on both lists: one attendance
    "Org J": (BRU, True, False),  # pending, not scanned
    "Org P1": (AKL, True, True),
    "Org P2": (AKL, True, False),
    "Org Q1": (HNL, True, True),
}
# 60 paid registrations without a scan, so that the orders take two pages of 50 (pretix_seed.FILLERS)
FIRST |= {f"Org X{n:02d}": (BRU, True, False) for n in range(1, 61)}


def _figures(participations: dict[str, dict]) -> dict[str, tuple]:
    return {k: (p["event_slug"], p["is_registered"], p["is_attended"]) for k, p in participations.items()}


def test_first_round_attendances_match_the_seeded_truth(conformance: Conformance) -> None:
    participations = conformance.first.participations
    assert _figures(participations) == FIRST
    for organisation, row in participations.items():
        assert row["person_key"] == _person(organisation.removeprefix("Org "))  # the attendee, pseudonymised
    countries = {k: p["country_code"] for k, p in participations.items()}
    assert countries["Org B"] == "UG" and countries["Org P1"] == "FJ" and countries["Org Q1"] == "TO"
    # first entry scan, not the exit; the earlier of two lists' entries
    first_scans = {k: p["first_checked_in_at"] for k, p in participations.items()}
    assert first_scans["Org B"] == datetime.fromisoformat("2026-06-15T06:50:00+00:00")
    assert first_scans["Org I"] == datetime.fromisoformat("2026-06-15T06:40:00+00:00")
    assert participations["Org C"]["first_checked_in_at"] is None


def test_first_round_kpis(conformance: Conformance) -> None:
    kpis = conformance.first.kpis
    figures = {k: (r["activities"], r["attendances"], r["participants"]) for k, r in kpis.items()}
    assert figures == {"all:all": (3, 8, 8), "phase:1": (1, 6, 6), "phase:2": (2, 2, 2)}
    assert kpis["all:all"]["countries_engaged"] == 5  # KE, UG (Uganda), FJ, WS (Samoa), TO (Tonga)


# --- the second round: what changed at the source ---------------------------------------------


def test_the_incremental_run_landed_exactly_the_touched_orders(conformance: Conformance) -> None:
    codes = conformance.seeded["codes"]
    assert len(codes) == 75 and conformance.first.orders_landed == set(codes.values())  # two pages
    touched = conformance.changed["touched"]
    assert set(touched) == {"J", "P2", "A", "H"}
    assert conformance.second.orders_landed == set(touched.values())
    orders = conformance.second.summary.streams[(SOURCE, "orders")]
    assert (orders.extracted, orders.loaded, orders.quarantined) == (4, 4, 0)
    events = conformance.second.summary.streams[(SOURCE, "events")]
    assert events.loaded == 0  # an unchanged snapshot is not landed again
    assert (SOURCE, "checkins") not in conformance.second.summary.streams  # not a default stream


def test_both_builds_passed_and_published(conformance: Conformance) -> None:
    for round_ in (conformance.first, conformance.second):
        nodes = round_.summary.dbt_nodes
        assert nodes and [n.name for n in nodes if n.status not in ("success", "pass")] == []
        assert round_.summary.published is not None  # the cancellation did not block the publish gate
    names = {n.name for n in conformance.second.summary.dbt_nodes}
    assert "int_participations_withdrawn" in names


def test_second_round_marts_moved(conformance: Conformance) -> None:
    expected = dict(FIRST)
    del expected["Org A"]  # order canceled
    expected["Org H"] = (BRU, True, False)  # its only scan reverted
    expected["Org J"] = (BRU, True, True)  # pending order, now scanned on the include_pending list
    expected["Org P2"] = (AKL, True, True)  # new scan
    assert _figures(conformance.second.participations) == expected
    kpis = conformance.second.kpis
    figures = {k: (r["activities"], r["attendances"], r["participants"]) for k, r in kpis.items()}
    assert figures == {"all:all": (3, 8, 8), "phase:1": (1, 5, 5), "phase:2": (2, 3, 3)}


# --- what must never be written -----------------------------------------------------------------


def _texts(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every landed batch (decompressed), manifest and log the run wrote, as text."""
    for path in folder.rglob("*"):
        if not path.is_file() or path.suffix in {".duckdb", ".sqlite3", ".wal", ".parquet", ".pdf", ".png"}:
            continue
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        yield path, raw.decode("utf-8", errors="replace")


def test_no_token_and_no_email_in_landing_or_logs(conformance: Conformance) -> None:
    scanned = list(_texts(conformance.folder))
    assert any("landing" in p.parts for p, _ in scanned)
    assert not [p for p, text in scanned if conformance.token in text]
    pretix_own = conformance.folder / "pretix"  # pretix's own database and seed logs hold the people
    leaks = [p for p, text in scanned if "@conformance.example" in text and not p.is_relative_to(pretix_own)]
    assert not leaks, leaks
