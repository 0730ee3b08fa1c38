"""The event path under a live Airflow (tests/live_airflow.py): what dag.test() cannot show.

The steps follow a single-machine deployment (docs/deployment.md, natively instead of in
containers): migrate the metadata database, create the one-slot `engage_writer` pool, a simple
auth manager login, start api-server, scheduler and dag-processor, check the pipeline
configuration, wait for the DAGs, unpause `engage_extract_*` and `engage_warehouse`, trigger every
extract DAG at once (pretix and KoboToolbox), and read the published marts. Then: an empty
extract starts no refresh, a signed pretix push reaches the published marts in minutes, and
`airflow backfill create` lands exactly its intervals. The tests share one Airflow and run in file order.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import pendulum
import pytest
import requests
import yaml

from engage.config import PipelineConfig, load_config
from engage.report.history import read_history
from tests.conftest import write_config
from tests.live_airflow import LiveAirflow, LiveAirflowError, pretix_order_push
from tests.simulator_forms import simulator_surveys

pytestmark = [pytest.mark.live_airflow, pytest.mark.timeout(1800)]

EXTRACT, WAREHOUSE = "engage_extract_pretix_test", "engage_warehouse"
EXTRACTS = (EXTRACT, "engage_extract_kobo_test")
KOBO_TOKEN_ENV = "ENGAGE_KOBO_LIVE_TOKEN"
PUSH_SECRET_ENV, PUSH_SECRET = "ENGAGE_WEBHOOK_SECRET_PRETIX_TEST", "live-airflow-push-secret"
PUSH_TARGET_SECONDS = 300


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, simulator: Any
) -> Iterator[tuple[LiveAirflow, PipelineConfig]]:
    from simulator.kobo_api import DEMO_KOBO_TOKEN

    folder = tmp_path_factory.mktemp("live-airflow")
    os.environ[KOBO_TOKEN_ENV] = DEMO_KOBO_TOKEN  # the services inherit the environment
    kobo = {
        "kind": "kobotoolbox",
        "base_url": simulator.kobo_url,
        "credentials": {"token_env": KOBO_TOKEN_ENV},
        "http": {"page_size": 1000, "backoff_factor": 0.01},
    }
    pretix = yaml.safe_load(write_config(folder, simulator.pretix_url).read_text())["sources"]
    config_path = write_config(
        folder,
        simulator.pretix_url,
        sources={**pretix, "kobo_test": kobo},
        surveys=simulator_surveys(kobo="kobo_test"),
    )
    config = load_config(config_path)  # the deployment's "validate the configuration" step
    with LiveAirflow(folder / "airflow", env={"ENGAGE_CONFIG": str(config_path)}) as airflow:
        airflow.wait_dags([*EXTRACTS, WAREHOUSE])
        yield airflow, config


def _published(config: PipelineConfig) -> tuple[str, int, int]:
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        return con.execute(
            "select (select version from _published), (select count(*) from dim_activity), "
            "(select count(*) from fct_participation where is_attended)"
        ).fetchone()


def test_every_extract_dag_at_once_refreshes_the_warehouse_from_whole_source_runs(live) -> None:
    """pretix and KoboToolbox triggered together: each refresh starts from a source run that landed
    all its streams, so no published version holds pretix's activities without their attendances."""
    airflow, config = live
    airflow.unpause(WAREHOUSE)
    for dag_id in EXTRACTS:
        airflow.unpause(dag_id)  # unpausing alone may start a run of the latest interval, too
    for dag_id in EXTRACTS:
        airflow.trigger(dag_id)
    extract_runs = {dag_id: airflow.wait_idle(dag_id, at_least=1, timeout=900) for dag_id in EXTRACTS}
    assert {r["state"] for runs in extract_runs.values() for r in runs} == {"success"}
    # One asset event per source run that landed something; a second (duplicate) run lands nothing.
    landed = [
        (dag_id, r["dag_run_id"])
        for dag_id, runs in extract_runs.items()
        for r in runs
        if airflow.task_states(dag_id, r["dag_run_id"])["source_landed"] == "success"
    ]
    assert {dag_id for dag_id, _ in landed} == set(EXTRACTS)
    runs = airflow.wait_idle(WAREHOUSE, at_least=1, timeout=1200)
    time.sleep(20)  # the last source's event may still be turning into a run
    runs = airflow.wait_idle(WAREHOUSE, at_least=len(runs), timeout=1200)
    # max_active_runs=1: events that arrive during a refresh are taken by the next one
    assert 1 <= len(runs) <= len(landed), (landed, runs)
    assert all(r["state"] == "success" and r["run_type"] == "asset_triggered" for r in runs), runs
    for run in runs:
        assert set(airflow.task_states(WAREHOUSE, run["dag_run_id"]).values()) <= {"success", "skipped"}
    _, activities, attendances = _published(config)
    assert activities > 250 and attendances > 13_000
    versions = read_history(config.published_dir)
    assert versions
    for version in versions:  # pretix whole or not yet loaded, never its events alone
        phase_1 = version.phases.get("1", {})
        assert phase_1.get("activities", 0) == 0 or phase_1["attendances"] > 13_000, version


def test_an_extract_run_that_lands_nothing_starts_no_refresh(live) -> None:
    airflow, _ = live
    before = len(airflow.runs(WAREHOUSE))
    run = airflow.trigger(EXTRACT)
    assert airflow.wait_run(EXTRACT, run["dag_run_id"], timeout=600)["state"] == "success"
    assert set(airflow.task_states(EXTRACT, run["dag_run_id"]).values()) == {"skipped"}
    time.sleep(20)  # an asset-triggered run would be created within a few scheduler loops
    assert len(airflow.runs(WAREHOUSE)) == before


def test_a_signed_pretix_push_reaches_the_published_marts_in_minutes(live, simulator) -> None:
    from engage.orchestration.asset_events import AirflowAssetEvents
    from engage.webhooks.receiver import serve_in_thread, sign

    airflow, config = live
    version_before = _published(config)[0]
    runs_before = len(airflow.runs(WAREHOUSE))
    os.environ[PUSH_SECRET_ENV] = PUSH_SECRET
    body = pretix_order_push(simulator, 9001)
    hook = AirflowAssetEvents(airflow.api_url, username="admin", password=airflow.password)
    with serve_in_thread(config, hook) as url:
        started = time.monotonic()
        answer = requests.post(
            f"{url}/webhooks/pretix/pretix_test",
            data=body,
            headers={"Content-Type": "application/json", "X-Engage-Signature": sign(PUSH_SECRET, body)},
            timeout=60,
        )
        assert answer.status_code == 202, answer.text
        # Wait longer than the goal, so a miss reports the figure instead of a timeout.
        runs = airflow.wait_idle(WAREHOUSE, at_least=runs_before + 1, timeout=3 * PUSH_TARGET_SECONDS)
        elapsed = time.monotonic() - started
    print(f"push -> published marts: {elapsed:.0f} s (load average {os.getloadavg()[0]:.1f})")
    assert runs[-1]["state"] == "success"
    assert _published(config)[0] != version_before
    assert elapsed < PUSH_TARGET_SECONDS, f"{elapsed:.0f} s"


def _backfill_orders(config: PipelineConfig) -> list[tuple[Any, dict]]:
    from engage.landing.batches import committed_manifests

    found = []
    for directory, manifest in committed_manifests(config.landing_dir, "pretix_test", "orders"):
        if manifest.data_interval_start is None:
            continue
        for part in directory.glob("part-*.ndjson.gz"):
            with gzip.open(part, "rt", encoding="utf-8") as handle:
                found += [(manifest, json.loads(line)) for line in handle]
    return found


def backfill_runs(airflow: LiveAirflow) -> list[dict[str, Any]]:
    return [r for r in airflow.runs(EXTRACT) if r["run_type"] == "backfill"]


def test_airflow_backfill_create_lands_exactly_its_intervals_and_moves_no_cursor(live) -> None:
    from engage.landing.batches import stream_state
    from extractors.streams import parse_cursor
    from simulator.pretix_data import generate

    airflow, config = live
    airflow.unpause(EXTRACT)  # already, after the first test; this test can also run alone (-k)
    if not stream_state(config.landing_dir, "pretix_test", "orders").marks:  # run alone: a normal run first
        from engage.extract import extract_stream

        extract_stream(config, "pretix_test", "orders")
    marks_before = stream_state(config.landing_dir, "pretix_test", "orders").marks
    assert marks_before  # a cursor that a backfill could wrongly move
    orders = sorted(generate().orders, key=lambda order: order.last_modified)
    busy = (
        pendulum.parse(orders[len(orders) // 2].last_modified).in_timezone("Europe/Brussels").start_of("day")
    )
    first, last = busy.subtract(days=1), busy.add(days=1)  # three daily intervals, in Brussels time
    command = ["backfill", "create", "--dag-id", EXTRACT, "--from-date", first.isoformat()]
    command += ["--to-date", last.isoformat(), "--reprocess-behavior", "none"]
    for attempt in range(5):  # SQLite: a write beside the scheduler's can fail at once as "locked"
        try:
            airflow.cli(*command)
            break
        except LiveAirflowError as exc:
            if "database is locked" not in str(exc) or attempt == 4 or backfill_runs(airflow):
                raise
            time.sleep(5)

    deadline = time.monotonic() + 900
    while not (
        len(backfill_runs(airflow)) >= 3
        and all(r["state"] in {"success", "failed"} for r in backfill_runs(airflow))
    ):
        assert time.monotonic() < deadline, backfill_runs(airflow)
        time.sleep(3)
    runs = backfill_runs(airflow)
    assert len(runs) == 3 and {r["state"] for r in runs} == {"success"}, runs
    intervals = sorted(
        (parse_cursor(r["data_interval_start"]), parse_cursor(r["data_interval_end"])) for r in runs
    )
    assert all(end - start == pendulum.duration(days=1) for start, end in intervals)
    landed = _backfill_orders(config)
    assert {
        (parse_cursor(m.data_interval_start), parse_cursor(m.data_interval_end)) for m, _ in landed
    } == set(intervals)
    expected = {o.code for o in orders if any(s <= parse_cursor(o.last_modified) < e for s, e in intervals)}
    assert expected and {record["code"] for _, record in landed} == expected
    assert stream_state(config.landing_dir, "pretix_test", "orders").marks == marks_before
