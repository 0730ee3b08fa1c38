"""The Airflow DAGs: imported through a real DagBag, run with dag.test() against the simulator."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import PROJECT_ROOT, write_config

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory, simulator: object, airflow_db: None) -> Path:
    """The metadata database and ENGAGE_CONFIG pointing at a fresh folder."""
    folder = tmp_path_factory.mktemp("airflow-run")
    config_path = write_config(folder, simulator.pretix_url)
    os.environ["ENGAGE_CONFIG"] = str(config_path)
    yield config_path
    os.environ.pop("ENGAGE_CONFIG", None)


@pytest.fixture(scope="module")
def dagbag(airflow_env: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_dags_import_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"engage_extract_pretix_test", "engage_warehouse", "engage_maintenance"}


def test_dag_structure(dagbag) -> None:
    extract = dagbag.get_dag("engage_extract_pretix_test")
    streams = {"extract_events", "extract_orders"}  # the default streams: check-ins come with orders
    assert {t.task_id for t in extract.tasks} == {*streams, "source_landed"}
    assert "engage" in extract.tags and extract.timezone.name == "Europe/Brussels"
    for task in extract.tasks:
        assert task.retries == 3 and task.owner == "data-engineering"
    # One event per source run, once all its streams are done; the streams themselves raise none.
    assert all(extract.get_task(t).outlets == [] for t in streams)
    landed = extract.get_task("source_landed")
    assert [o.uri for o in landed.outlets] == ["engage://landing/pretix_test"]
    assert landed.upstream_task_ids == streams and landed.trigger_rule == "none_failed_min_one_success"
    warehouse = dagbag.get_dag("engage_warehouse")
    assert [t.task_id for t in warehouse.topological_sort()] == ["load", "dbt_build", "publish"]
    assert {t.pool for t in warehouse.tasks} == {"engage_writer"}
    publish = warehouse.get_task("publish")
    assert [o.uri for o in publish.outlets] == ["engage://warehouse/marts"]
    # Scheduled on the whole source run, and on the per-stream assets partner pushes raise.
    scheduled = {asset.uri for asset in warehouse.timetable.asset_condition.objects}
    assert scheduled == {"engage://landing/pretix_test"} | {
        f"engage://landing/pretix_test/{s}" for s in ("events", "orders")
    }


def test_the_dag_files_parse_in_under_a_second(airflow_env: Path) -> None:
    import importlib
    import sys
    import time

    for name in ("dags.engage_warehouse", "dags.engage_extract"):
        sys.modules.pop(name, None)
        started = time.process_time()  # CPU time: other jobs on the machine do not count
        importlib.import_module(name)
        assert time.process_time() - started < 1.0, name


@pytest.mark.parametrize(
    ("run_type", "conf", "windowed"),
    [("backfill", {}, True), ("scheduled", {}, False), ("manual", {"window": "data_interval"}, True)],
)
def test_the_run_window_reads_the_run_type_by_value(run_type: str, conf: dict, windowed: bool) -> None:
    """A live task sees the Task SDK's enum (DagRunType.BACKFILL), whose str() is not its value."""
    from types import SimpleNamespace

    import pendulum
    from airflow.sdk.api.datamodels._generated import DagRunType

    from engage.orchestration.dag_factory import run_window

    start = pendulum.datetime(2024, 3, 1, tz="Europe/Brussels")
    context = {
        "dag_run": SimpleNamespace(run_type=DagRunType(run_type), conf=conf),
        "data_interval_start": start,
        "data_interval_end": start.add(days=3),
    }
    window = run_window(context)
    assert (window is not None) == windowed
    if windowed:
        assert (window.start, window.end) == (start.isoformat(), start.add(days=3).isoformat())


def test_a_new_source_in_the_config_adds_its_dag(airflow_env: Path, tmp_path: Path) -> None:
    from engage.config import load_config
    from engage.orchestration.dag_factory import build_extract_dags

    data = yaml.safe_load(airflow_env.read_text())
    data["sources"]["pretix_partner_two"] = {**data["sources"]["pretix_test"], "schedule": "0 6 * * *"}
    second = tmp_path / "pipeline.yml"
    second.write_text(yaml.safe_dump(data))
    dags = build_extract_dags(load_config(second))
    assert set(dags) == {"engage_extract_pretix_test", "engage_extract_pretix_partner_two"}


def _without_retries(dag):
    """dag.test() honours retry delays (minutes, growing): in a test, a failure should show at once."""
    for task in dag.tasks:
        task.retries = 0
    return dag


def test_extract_then_warehouse_dag_runs_publish_the_marts(dagbag, airflow_env: Path) -> None:
    from airflow.utils.state import DagRunState, TaskInstanceState

    from engage.config import load_config

    config = load_config(airflow_env)
    extract_run = _without_retries(dagbag.get_dag("engage_extract_pretix_test")).test()
    assert extract_run.state == DagRunState.SUCCESS
    states = {ti.task_id: ti.state for ti in extract_run.get_task_instances()}
    assert set(states.values()) == {TaskInstanceState.SUCCESS} and len(states) == 3
    assert len(list(config.landing_dir.glob("pretix_test/*/batch=*/_MANIFEST.json"))) == 2

    warehouse_run = _without_retries(dagbag.get_dag("engage_warehouse")).test()
    states = {ti.task_id: ti.state for ti in warehouse_run.get_task_instances()}
    assert warehouse_run.state == DagRunState.SUCCESS, states
    assert set(states.values()) == {TaskInstanceState.SUCCESS}
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        activities = con.execute("select count(*) from dim_activity").fetchone()[0]
        participations = con.execute("select count(*) from fct_participation where is_attended").fetchone()[0]
    assert activities > 250
    assert participations > 13_000

    # Quiet: a second run finds nothing new, lands nothing and raises no event; the warehouse
    # run that follows anyway (say, triggered by hand) skips dbt and publish.
    again = {
        ti.task_id: ti.state
        for ti in dagbag.get_dag("engage_extract_pretix_test").test().get_task_instances()
    }
    assert again["extract_orders"] == TaskInstanceState.SKIPPED
    assert (
        again["source_landed"] == TaskInstanceState.SKIPPED
        or again["extract_events"] == TaskInstanceState.SUCCESS
    )
    idle = {ti.task_id: ti.state for ti in dagbag.get_dag("engage_warehouse").test().get_task_instances()}
    assert set(idle.values()) == {TaskInstanceState.SKIPPED}, idle


def test_a_run_over_a_past_interval_lands_exactly_that_interval(
    airflow_env: Path, tmp_path: Path, simulator
) -> None:
    import pendulum
    from airflow.utils.state import DagRunState

    from engage.config import load_config
    from engage.landing.batches import committed_manifests
    from engage.orchestration.dag_factory import build_extract_dag
    from extractors.streams import parse_cursor
    from simulator.pretix_data import generate

    config = load_config(write_config(tmp_path, simulator.pretix_url))
    dag = _without_retries(build_extract_dag(config, "pretix_test"))
    orders = sorted(generate().orders, key=lambda order: order.last_modified)
    busy_day = pendulum.parse(orders[len(orders) // 2].last_modified).in_timezone("Europe/Brussels")
    # A run's data interval ends at its logical date here: ask for the day after the busy day.
    logical_date = busy_day.start_of("day").add(days=1)
    run = dag.test(logical_date=logical_date, run_conf={"window": "data_interval"})
    assert run.state == DagRunState.SUCCESS
    start, end = (
        parse_cursor(run.data_interval_start.isoformat()),
        parse_cursor(run.data_interval_end.isoformat()),
    )
    assert end - start == pendulum.duration(days=1)  # a real interval, not a point in time
    [(directory, manifest)] = list(committed_manifests(config.landing_dir, "pretix_test", "orders"))
    assert parse_cursor(manifest.data_interval_start) == start
    assert parse_cursor(manifest.data_interval_end) == end
    landed = []
    for part in directory.glob("part-*.ndjson.gz"):
        with gzip.open(part, "rt") as handle:
            landed += [json.loads(line) for line in handle]
    expected = {o.code for o in orders if start <= parse_cursor(o.last_modified) < end}
    assert expected  # the chosen day has changes at the source
    assert {o["code"] for o in landed} == expected
