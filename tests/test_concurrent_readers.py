"""Analysts read the published copy throughout a refresh: no lock error, always one consistent version.

Four reader processes loop (until a stop file appears, at most a few thousand reads): two open
`marts.duckdb` read-only with a fresh connection each time, as an analyst tool would; two read the
Parquet files through the `parquet` symlink (resolved once per read, so both files come from one
version). Each read checks the version and a cross-table invariant. Meanwhile the main process
publishes several times and runs the whole pipeline after a change at the source. Asserted: no
error in any reader, every read consistent, and at least two versions seen by the readers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import requests

from engage.config import load_config
from engage.pipeline import run_pipeline
from engage.warehouse.publish import publish
from tests.conftest import TOKEN_ENV, write_config

pytestmark = pytest.mark.integration
FULL = os.environ.get("ENGAGE_RELIABILITY_FULL") == "1"
READERS = 4
MAX_READS = 20_000 if FULL else 3_000
PUBLISHES = 10 if FULL else 4

CHECK_SQL = """
    select
        (select attendances from mart_programme_kpis where dimension = 'all'),
        (select count(*) from fct_participation where is_attended),
        (select activities from mart_programme_kpis where dimension = 'all'),
        (select count(*) from dim_activity)
"""
PARQUET_SQL = """
    select
        (select attendances from read_parquet(?) where dimension = 'all'),
        (select count(*) from read_parquet(?) where is_attended),
        (select activities from read_parquet(?) where dimension = 'all'),
        (select count(*) from read_parquet(?))
"""


def _reader(kind: str, marts: str, published: str, stop: str, out: str) -> None:
    """One analyst: read until told to stop; write counts and every error to `out`."""
    reads, inconsistent, errors, versions = 0, [], [], Counter()
    while not os.path.exists(stop) and reads < MAX_READS:
        try:
            if kind == "duckdb":
                with duckdb.connect(marts, read_only=True) as con:
                    [version] = con.execute("select version from _published").fetchone()
                    values = con.execute(CHECK_SQL).fetchone()
            else:
                folder = os.path.realpath(os.path.join(published, "parquet"))
                version = os.path.basename(folder).removeprefix("parquet-")
                kpis = os.path.join(folder, "mart_programme_kpis.parquet")
                with duckdb.connect() as con:
                    values = con.execute(
                        PARQUET_SQL,
                        [
                            kpis,
                            os.path.join(folder, "fct_participation.parquet"),
                            kpis,
                            os.path.join(folder, "dim_activity.parquet"),
                        ],
                    ).fetchone()
            reads += 1
            versions[version] += 1
            if values[0] != values[1] or values[2] != values[3] or values[3] == 0:
                inconsistent.append([version, list(values)])
        except Exception as exc:  # every error counts: lock conflicts, missing files, partial files
            reads += 1
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.005)  # an analyst's tool, not a busy loop starving the refresh of CPU
    Path(out).write_text(
        json.dumps(
            {
                "kind": kind,
                "reads": reads,
                "inconsistent": inconsistent,
                "errors": errors[:20],
                "error_count": len(errors),
                "versions": versions,
            }
        ),
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def readers_simulator():
    from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

    os.environ[TOKEN_ENV] = DEMO_PRETIX_TOKEN
    with start_simulator(port=0) as handle:  # this test changes source data: a simulator of its own
        yield handle


def test_readers_see_complete_versions_and_no_lock_error_during_refreshes(
    tmp_path: Path, readers_simulator
) -> None:
    sim = readers_simulator
    sources = {
        "pretix_test": {
            "kind": "pretix",
            "base_url": sim.pretix_url,
            "organizer": "ecccn",
            "credentials": {"token_env": TOKEN_ENV},
            "streams": ["events", "orders", "checkins"],
            "http": {"page_size": 500, "backoff_factor": 0.01},
        }
    }
    config = load_config(write_config(tmp_path, sim.pretix_url, sources=sources))
    run_pipeline(config)
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        attended, expected, activities, dim = con.execute(CHECK_SQL).fetchone()
        [event] = con.execute("select min(event_slug) from dim_activity where phase = '1'").fetchone()
    assert attended == expected > 0 and activities == dim > 0  # the invariant holds, on real numbers

    stop = tmp_path / "stop"
    context = multiprocessing.get_context("spawn")
    kinds = ["duckdb", "parquet"] * (READERS // 2)
    outputs = [tmp_path / f"reader-{i}.json" for i in range(READERS)]
    processes = [
        context.Process(
            target=_reader,
            args=(kind, str(config.marts_path), str(config.published_dir), str(stop), str(out)),
        )
        for kind, out in zip(kinds, outputs, strict=True)
    ]
    for process in processes:
        process.start()
    try:
        time.sleep(1.0)  # let every reader get going (not asserted on)
        published_versions = []
        for _ in range(PUBLISHES):
            published_versions.append(publish(config).database)
        # A change at the source flows through a whole refresh while the readers keep reading.
        control = sim.base_url + "/_sim/pretix"
        order = requests.post(
            control + "/orders",
            json={
                "event": event,
                "email": "reader.test@example.org",
                "name": "Reader Test",
                "country": "Chile",
            },
            timeout=10,
        ).json()
        requests.post(control + f"/orders/{order['code']}/checkin", timeout=10).raise_for_status()
        run_pipeline(config)
        publish(config)
    finally:
        stop.touch()
        for process in processes:
            process.join(timeout=120)
    assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]

    results = [json.loads(out.read_text(encoding="utf-8")) for out in outputs]
    versions = Counter()
    for result in results:
        versions.update(result["versions"])
    figures = {
        "readers": len(results),
        "reads": sum(r["reads"] for r in results),
        "reads_per_reader": [(r["kind"], r["reads"]) for r in results],
        "errors": sum(r["error_count"] for r in results),
        "inconsistent": sum(len(r["inconsistent"]) for r in results),
        "versions_seen": len(versions),
        "publishes": PUBLISHES + 2,
    }
    print(json.dumps(figures))
    (tmp_path / "readers_report.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    for result in results:
        assert result["error_count"] == 0, result["errors"]
        assert result["inconsistent"] == [], result["inconsistent"][:5]
        assert result["reads"] > 0
        assert len(result["versions"]) >= 2, result  # this reader read across a refresh
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        assert con.execute(CHECK_SQL).fetchone()[0] == attended + 1  # the change was published
