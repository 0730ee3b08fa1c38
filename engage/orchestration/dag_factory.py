"""Airflow DAGs built from the pipeline configuration; the files in dags/ only call these.

Parsing stays cheap: the configuration is a small YAML file, the dbt graph comes from a manifest
built ahead (`make manifest`), and every heavy import happens inside the task that needs it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetAny, task
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from engage.config import PipelineConfig, load_config

WRITER_POOL = "engage_writer"  # one slot: load, dbt and publish never overlap on the DuckDB file
MARTS_ASSET = Asset(name="engage_marts", uri="engage://warehouse/marts")
# The programme began in 2019: backfills may reach back that far (catchup stays off).
START_DATE = pendulum.datetime(2019, 1, 1, tz="Europe/Brussels")


def landed_asset(source_name: str, stream: str) -> Asset:
    """Stable per stream: consumers schedule on it whatever the landing zone's location."""
    return Asset(
        name=f"engage_landing_{source_name}_{stream}", uri=f"engage://landing/{source_name}/{stream}"
    )


def _alert_callback(config: PipelineConfig, source: str, stream: str) -> Any:
    def on_failure(context: Any) -> None:
        from engage.orchestration.alerts import alert_from_context, notifiers_for, send_alert

        send_alert(alert_from_context(context, source=source, stream=stream), notifiers_for(config.alerts))

    return on_failure


def _default_args(owner: str) -> dict[str, Any]:
    return {
        "owner": owner,
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    }


def run_window(context: Any) -> Any:
    """The cursor window a run covers: its data interval for a backfill run (or a run triggered
    with conf {"window": "data_interval"}), else None: continue from the committed cursors."""
    from extractors.streams import Window

    dag_run = context["dag_run"]
    asked = (dag_run.conf or {}).get("window") == "data_interval"
    if str(dag_run.run_type) not in {"backfill", "DagRunType.BACKFILL_JOB"} and not asked:
        return None
    return Window(context["data_interval_start"].isoformat(), context["data_interval_end"].isoformat())


def build_extract_dag(config: PipelineConfig, source_name: str) -> DAG:
    source = config.source(source_name)
    with DAG(
        dag_id=f"engage_extract_{source_name}",
        description=f"Extract {source.kind} source {source_name} into the landing zone",
        # Data intervals that span the period (Airflow 3's cron default is a point in time), so a
        # backfill run extracts exactly its interval.
        schedule=CronDataIntervalTimetable(source.schedule, timezone=config.timezone),
        start_date=START_DATE.in_timezone(config.timezone),
        catchup=False,
        max_active_runs=1,
        default_args=_default_args(source.owner),
        tags=["engage", "extract", source.kind],
        doc_md=(
            f"Lands every stream of **{source_name}** ({source.kind}, {source.location}) as NDJSON.gz "
            "batches with manifests. Never opens the warehouse: each task emits the asset of its "
            "stream and the warehouse DAG loads what landed."
        ),
    ) as dag:
        for stream in source.streams:

            @task(
                task_id=f"extract_{stream}",
                outlets=[landed_asset(source_name, stream)],
                on_failure_callback=_alert_callback(config, source_name, stream),
            )
            def extract(stream_name: str = stream) -> dict[str, Any]:
                from airflow.sdk import get_current_context

                from engage.extract import extract_stream

                window = run_window(get_current_context())
                result = extract_stream(
                    load_config(config.config_path), source_name, stream_name, window=window
                )
                return {"batch_id": result.batch_id, "records": result.records, "note": result.note}

            extract()
    return dag


def build_extract_dags(config: PipelineConfig | None = None) -> dict[str, DAG]:
    config = config or load_config()
    dags = (build_extract_dag(config, name) for name in config.sources)
    return {dag.dag_id: dag for dag in dags}


def _dbt_task_group(config: PipelineConfig) -> Any:
    # No usage telemetry from Cosmos, wherever the DAGs are parsed (an explicit setting still wins).
    os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

    from engage.warehouse.dbt import build_exclusions, dbt_vars

    manifest = config.dbt_dir / "target" / "manifest.json"
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} is missing: build it with `make manifest` (dbt parse)")
    env = {"ENGAGE_WAREHOUSE_PATH": str(config.warehouse_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=config.dbt_dir,
            manifest_path=manifest,
            project_name="engage",
            env_vars=env,
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="engage",
            target_name="warehouse",
            profiles_yml_filepath=Path(config.dbt_dir) / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            # A relationship test runs once both its parents are built, in a task of its own.
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,  # one `dbt build` per node: model and its tests together
            emit_datasets=False,  # Cosmos' own assets embed absolute DuckDB paths; we emit MARTS_ASSET
            enable_mock_profile=False,
            should_detach_multiple_parents_tests=True,
            exclude=build_exclusions(config),  # the demo's headline-figure tests, outside the demo
        ),
        # The same dbt vars as `engage run` (demo flag, survey forms, time zones, freshness).
        operator_args={"pool": WRITER_POOL, "vars": dbt_vars(config)},
        default_args={"retries": 1},
    )


def build_warehouse_dag(config: PipelineConfig | None = None) -> DAG:
    config = config or load_config()
    assets = [landed_asset(name, stream) for name, src in config.sources.items() for stream in src.streams]
    with DAG(
        dag_id="engage_warehouse",
        description="Load landed batches, build the warehouse with dbt, publish the marts",
        schedule=AssetAny(*assets),
        start_date=START_DATE.in_timezone(config.timezone),
        catchup=False,
        max_active_runs=1,
        default_args={
            **_default_args("data-engineering"),
            "on_failure_callback": _alert_callback(config, "all", "all"),
        },
        tags=["engage", "warehouse"],
        doc_md=(
            "Runs whenever a stream lands a batch. Every task takes the one-slot `engage_writer` "
            "pool: DuckDB has a single writer. Emits `engage_marts` once the published copy is "
            "replaced."
        ),
    ) as dag:

        @task(pool=WRITER_POOL)
        def load() -> dict[str, Any]:
            from engage.orchestration.freshness_alerts import alert_stale
            from engage.warehouse.freshness import check_freshness
            from engage.warehouse.loader import load_pending

            current = load_config(config.config_path)
            results = load_pending(current)
            # Freshness of what is now loaded: a stale source alerts, the refresh goes on.
            freshness = check_freshness(current)
            alert_stale(current, freshness, where="engage_warehouse")
            return {
                "batches": len(results),
                "loaded": sum(r.loaded for r in results),
                "quarantined": sum(r.quarantined for r in results),
                "stale_sources": [item.line() for item in freshness if item.is_stale],
            }

        @task(pool=WRITER_POOL, outlets=[MARTS_ASSET])
        def publish() -> dict[str, int]:
            from engage.warehouse.dbt import generate_docs
            from engage.warehouse.publish import publish as publish_marts

            current = load_config(config.config_path)
            return publish_marts(current, docs_page=generate_docs(current)).tables

        load() >> _dbt_task_group(config) >> publish()
    return dag
