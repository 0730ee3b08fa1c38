"""Maintenance: landing retention, warehouse checkpoint, published copy check, and their DAG.

Ages: retention reads a committed batch's age from its manifest's `extracted_at` (set once at
commit), so the tests age a batch by rewriting that field before it is loaded; an uncommitted
folder has no manifest, so its age is the newest mtime inside, set here with os.utime.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from engage.config import PipelineConfig, RetentionSettings, load_config
from engage.extract import extract_stream
from engage.landing.batches import (
    MANIFEST_NAME,
    BatchWriter,
    Manifest,
    MarkInfo,
    SourceFileInfo,
    new_batch_id,
    stream_state,
)
from engage.maintenance.checkpoint import checkpoint_warehouse
from engage.maintenance.published_check import PublishedCopyError, check_published
from engage.maintenance.retention import apply_retention
from engage.warehouse.loader import load_pending
from engage.warehouse.publish import publish
from tests.conftest import PROJECT_ROOT, write_config
from tests.scripted_server import scripted_server

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=500)  # beyond the default 400 days
NO_SERVER = "http://127.0.0.1:9/api/v1/"  # for configs whose tests extract nothing


def _batch(
    config: PipelineConfig,
    stream: str,
    records: list[dict],
    *,
    extracted: datetime,
    mark: str | None = None,
    source: str = "pretix_test",
    system: str = "pretix",
    source_files: list[SourceFileInfo] | None = None,
) -> Path:
    """A committed batch written by the real BatchWriter, its batch id and extracted_at at `extracted`."""
    snapshot = stream in {"events", "checkins"}
    writer = BatchWriter(
        config.landing_dir,
        source_instance=source,
        system=system,
        stream=stream,
        mode="snapshot" if snapshot else "incremental",
        primary_key=["slug"] if stream == "events" else ["code"],
        cursor_field=None if snapshot or mark is None else "last_modified",
        extractor_version="test",
        batch_id=new_batch_id(extracted),
    )
    writer.write(records)
    marks = {"": MarkInfo(end=mark, keys=[r["code"] for r in records])} if mark else None
    writer.commit(cursor_end=mark, cursor_marks=marks, source_files=source_files)
    _age(writer.directory, extracted)
    return writer.directory


def _age(directory: Path, extracted: datetime) -> None:
    path = directory / MANIFEST_NAME
    manifest = Manifest.model_validate_json(path.read_text())
    path.write_text(manifest.model_copy(update={"extracted_at": extracted.isoformat()}).model_dump_json())


def _orphan(config: PipelineConfig, age: timedelta) -> Path:
    folder = config.landing_dir / "pretix_test" / "orders" / f"batch={new_batch_id(NOW - age)}"
    folder.mkdir(parents=True)
    (folder / "part-00000.ndjson.gz").write_bytes(b"\x1f\x8b half a crashed run")
    stamp = (NOW - age).timestamp()
    for path in (folder / "part-00000.ndjson.gz", folder):
        os.utime(path, (stamp, stamp))
    return folder


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _batch_dirs(config: PipelineConfig) -> set[Path]:
    return set(config.landing_dir.glob("*/*/batch=*"))


@pytest.mark.integration
def test_retention_deletes_only_old_loaded_stateless_batches_and_the_cursor_survives(
    tmp_path: Path, simulator
) -> None:
    # events (a snapshot) and orders (incremental); check-ins, a second snapshot, only add time.
    path = write_config(tmp_path, simulator.pretix_url)
    data = yaml.safe_load(path.read_text())
    data["sources"]["pretix_test"]["streams"] = ["events", "orders"]
    path.write_text(yaml.safe_dump(data))
    config = load_config(path)
    current = {}
    for stream in ("events", "orders"):  # the real state: landed from the simulator
        result = extract_stream(config, "pretix_test", stream)
        current[stream] = next(config.landing_dir.glob(f"pretix_test/{stream}/batch={result.batch_id}"))
        _age(current[stream], OLD)  # old, but they hold the cursor / the latest snapshots
    state_before = {s: stream_state(config.landing_dir, "pretix_test", s) for s in current}

    old_order = _batch(
        config, "orders", [{"code": "OLD01", "last_modified": "2019-02-01T00:00:00Z"}],
        extracted=OLD, mark="2019-02-01T00:00:00Z",
    )  # fmt: skip
    old_events = _batch(config, "events", [{"slug": "old-event"}], extracted=OLD)
    young_order = _batch(
        config, "orders", [{"code": "YNG01", "last_modified": "2019-03-01T00:00:00Z"}],
        extracted=NOW - timedelta(days=10), mark="2019-03-01T00:00:00Z",
    )  # fmt: skip
    registry_file = _batch(
        config, "experts", [{"code": "E1"}], extracted=OLD, source="registry_test", system="registry",
        source_files=[SourceFileInfo(name="experts.csv", sha256="ab" * 32)],
    )  # fmt: skip
    assert len(load_pending(config)) == 6
    unloaded = _batch(
        config, "orders", [{"code": "OLD02", "last_modified": "2019-02-02T00:00:00Z"}],
        extracted=OLD, mark="2019-02-02T00:00:00Z",
    )  # fmt: skip
    stale_orphan = _orphan(config, timedelta(days=2))
    fresh_orphan = _orphan(config, timedelta(hours=1))
    expected_bytes = _size(old_order) + _size(old_events)
    before = _batch_dirs(config)

    planned = apply_retention(config, dry_run=True)
    assert _batch_dirs(config) == before
    kept_forever = apply_retention(config.model_copy(update={"retention": RetentionSettings(landing_days=0)}))
    assert kept_forever.deleted == []  # orphans go whatever landing_days says
    assert kept_forever.orphans == [stale_orphan.relative_to(config.landing_dir).as_posix()]
    stale_orphan = _orphan(config, timedelta(days=3))
    orphan_bytes = _size(stale_orphan)

    result = apply_retention(config)
    assert planned.deleted == result.deleted
    assert set(result.deleted) == {
        old_order.name.removeprefix("batch="),
        old_events.name.removeprefix("batch="),
    }
    assert result.deleted_bytes == expected_bytes
    assert result.orphans == [stale_orphan.relative_to(config.landing_dir).as_posix()]
    assert result.orphan_bytes == orphan_bytes
    assert result.kept_state == 3  # the current events and orders, the registry file batch
    assert result.kept_unloaded == 1
    assert _batch_dirs(config) == {*current.values(), young_order, registry_file, unloaded, fresh_orphan}
    assert not list(config.landing_dir.glob("*/*/.deleting-*"))

    # The raw tables still hold the deleted batches' records; the state is what it was.
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        codes = {r[0] for r in con.execute("select record_key from raw.pretix__orders").fetchall()}
    assert {"OLD01", "YNG01"} <= codes
    # (last_extracted_at moves on: the young batch added above is newer than the aged current ones)
    for stream, state in state_before.items():
        after = stream_state(config.landing_dir, "pretix_test", stream)
        assert (after.marks, after.seen_files, after.last_snapshot_sha256) == (
            state.marks, state.seen_files, state.last_snapshot_sha256,
        )  # fmt: skip
    # A second run extracts nothing new: cursor and snapshot checksums are intact.
    notes = {s: extract_stream(config, "pretix_test", s) for s in current}
    assert {s: (r.records, r.note) for s, r in notes.items()} == {
        "events": (0, "unchanged snapshot"),
        "orders": (0, "nothing new"),
    }


def _small_warehouse(folder: Path) -> PipelineConfig:
    """A real warehouse (loaded batches, an audit) with a small marts schema, published once."""
    config = load_config(write_config(folder, NO_SERVER))
    _batch(config, "orders", [{"code": "A1", "last_modified": "2019-01-05T00:00:00Z"}],
           extracted=OLD, mark="2019-01-05T00:00:00Z")  # fmt: skip
    _batch(config, "orders", [{"code": "A2", "last_modified": "2019-01-06T00:00:00Z"}],
           extracted=OLD + timedelta(days=1), mark="2019-01-06T00:00:00Z")  # fmt: skip
    load_pending(config)
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.mart_programme_kpis_by_phase as "
            "select * from (values ('1', 252, 13414), ('all', 291, 15614)) t(phase, activities, attendances)"
        )
        con.execute("create table marts.dim_country as select * from (values ('BE'), ('NL'), ('UA')) t(iso2)")
    publish(config)
    return config


def test_the_published_copy_check_passes_on_a_real_publish(tmp_path: Path) -> None:
    config = _small_warehouse(tmp_path)
    result = check_published(config)
    assert result.tables == {"dim_country": 3, "mart_programme_kpis_by_phase": 2}
    assert (config.published_dir / "parquet").resolve().name == f"parquet-{result.version}"


def test_the_check_names_a_missing_table_and_a_row_count_that_differs(tmp_path: Path) -> None:
    config = _small_warehouse(tmp_path)
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute("create table marts.dim_sector as select 'public' as sector")
        con.execute("insert into marts.dim_country values ('FR')")
    with pytest.raises(PublishedCopyError) as caught:
        check_published(config)
    message = str(caught.value)
    assert message.startswith(f"published copy {config.marts_path} is not sound:")
    assert f"table dim_sector is missing from {config.marts_path}" in message
    assert "table dim_country: 3 rows published, 4 in the warehouse" in message
    assert "has no dim_sector.parquet" in message


def test_the_check_names_a_broken_parquet_link_and_a_missing_report(tmp_path: Path) -> None:
    config = _small_warehouse(tmp_path)
    link = config.published_dir / "parquet"
    shutil.rmtree(link.resolve())
    (config.published_dir / "report.md").unlink()
    with pytest.raises(PublishedCopyError) as caught:
        check_published(config)
    message = str(caught.value)
    assert f"{link} points at {os.readlink(link)}, which does not exist" in message
    assert f"{config.published_dir / 'report.md'} is missing or empty" in message


def test_checkpoint_reports_sizes_under_the_writer_slot(tmp_path: Path) -> None:
    config = _small_warehouse(tmp_path)
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute("create table raw.scratch as select range as i from range(200000)")
        con.execute("drop table raw.scratch")
    result = checkpoint_warehouse(config)
    assert result.size_before > 0 and result.size_after > 0
    assert result.wal_after == 0  # everything folded into the file
    assert result.vacuumed


# ---------------------------------------------------------------------------------------------
# The DAG


@pytest.mark.airflow
def test_the_maintenance_dag_imports_with_its_conventions(
    tmp_path: Path, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("ENGAGE_CONFIG", str(write_config(tmp_path, NO_SERVER)))
    dagbag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert dagbag.import_errors == {}
    dag = dagbag.get_dag("engage_maintenance")
    assert {t.task_id for t in dag.tasks} == {
        "landing_retention",
        "warehouse_checkpoint",
        "check_published_copy",
    }
    assert not dag.catchup and "maintenance" in dag.tags and dag.timezone.name == "Europe/Brussels"
    assert dag.timetable.expression == "0 3 * * *"
    for task in dag.tasks:
        assert task.pool == "engage_writer" and task.owner == "data-engineering" and task.retries == 3
        assert task.on_failure_callback


def _dag_run(config_path: Path, monkeypatch: pytest.MonkeyPatch):
    from engage.orchestration.dag_maintenance import build_maintenance_dag
    from tests.test_dags import _without_retries

    monkeypatch.setenv("ENGAGE_CONFIG", str(config_path))  # dag.test() parses the DAG folder too
    return _without_retries(build_maintenance_dag(load_config(config_path))).test()


@pytest.mark.airflow
def test_a_maintenance_run_on_a_small_warehouse(
    tmp_path: Path, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.utils.state import DagRunState, TaskInstanceState

    config = _small_warehouse(tmp_path)
    batches = sorted(config.landing_dir.glob("pretix_test/orders/batch=*"))
    run = _dag_run(config.config_path, monkeypatch)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == DagRunState.SUCCESS, states
    assert set(states.values()) == {TaskInstanceState.SUCCESS}
    # The older batch went; the one carrying the cursor mark stayed.
    assert sorted(config.landing_dir.glob("pretix_test/orders/batch=*")) == batches[1:]


@pytest.mark.airflow
def test_a_broken_published_copy_fails_the_run_and_alerts(
    tmp_path: Path, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.utils.state import DagRunState, TaskInstanceState

    config = _small_warehouse(tmp_path)
    data = yaml.safe_load(config.config_path.read_text())
    data["alerts"] = {"webhook_url_env": "ENGAGE_TEST_ALERT_HOOK"}
    config.config_path.write_text(yaml.safe_dump(data))
    shutil.rmtree((config.published_dir / "parquet").resolve())
    bodies: list[dict] = []

    def answer(path: str, n: int, body: bytes = b""):
        bodies.append(json.loads(body))
        return 200, {}, {}

    with scripted_server(answer) as (url, _):
        monkeypatch.setenv("ENGAGE_TEST_ALERT_HOOK", url + "hook")
        run = _dag_run(config.config_path, monkeypatch)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == DagRunState.FAILED
    assert states == {
        "landing_retention": TaskInstanceState.SUCCESS,
        "warehouse_checkpoint": TaskInstanceState.SUCCESS,
        "check_published_copy": TaskInstanceState.FAILED,
    }
    [body] = bodies
    assert body["task_id"] == "check_published_copy" and body["stream"] == "maintenance"
    assert "PublishedCopyError" in body["error"] and "which does not exist" in body["error"]


def test_engage_maintain_runs_the_same_functions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from engage.cli import app

    config = _small_warehouse(tmp_path)
    runner = CliRunner()
    dry = runner.invoke(app, ["maintain", "--config", str(config.config_path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "retention: would delete 1 batches" in dry.output
    assert len(list(config.landing_dir.glob("pretix_test/orders/batch=*"))) == 2
    done = runner.invoke(app, ["maintain", "--config", str(config.config_path)])
    assert done.exit_code == 0, done.output
    assert "retention: deleted 1 batches" in done.output and "2 tables match" in done.output
    (config.published_dir / "report.md").unlink()
    failed = runner.invoke(app, ["maintain", "--config", str(config.config_path), "--no-retention"])
    assert failed.exit_code == 1 and "report.md is missing or empty" in failed.output
