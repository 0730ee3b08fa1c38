"""The `engage_maintenance` DAG: landing retention, warehouse checkpoint, published copy check.

Every task opens the working warehouse (retention reads audit.batches, the check reads the marts
schema), so every task takes the one-slot `engage_writer` pool: the warehouse DAG's tasks hold the
pool across processes, and DuckDB allows no reader beside a writer in another process.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

from engage.config import PipelineConfig, load_config
from engage.orchestration.dag_factory import START_DATE, WRITER_POOL, _alert_callback, _default_args

MAINTENANCE_SCHEDULE = "0 3 * * *"  # daily at 03:00 local time (the config's timezone)


def build_maintenance_dag(config: PipelineConfig | None = None) -> DAG:
    config = config or load_config()
    with DAG(
        dag_id="engage_maintenance",
        description="Landing retention, warehouse checkpoint, published copy check",
        schedule=CronTriggerTimetable(MAINTENANCE_SCHEDULE, timezone=config.timezone),
        start_date=START_DATE.in_timezone(config.timezone),
        catchup=False,
        max_active_runs=1,
        default_args={
            **_default_args("data-engineering"),
            "pool": WRITER_POOL,
            "on_failure_callback": _alert_callback(config, "all", "maintenance"),
        },
        tags=["engage", "maintenance"],
        doc_md=(
            "Daily housekeeping. `landing_retention` deletes committed batches older than "
            "`retention.landing_days` that the warehouse has loaded, never one holding a stream's "
            "cursor or latest snapshot, and crashed runs' uncommitted folders. "
            "`warehouse_checkpoint` runs VACUUM ANALYZE and CHECKPOINT. `check_published_copy` "
            "fails (and alerts) when `marts.duckdb`, the Parquet link or the report do not match "
            "the warehouse. Each check runs even if the one before failed."
        ),
    ) as dag:

        @task
        def landing_retention() -> dict[str, int]:
            from engage.maintenance.retention import apply_retention

            return apply_retention(load_config(config.config_path)).summary()

        @task(trigger_rule="all_done")
        def warehouse_checkpoint() -> dict[str, Any]:
            from engage.maintenance.checkpoint import checkpoint_warehouse

            return checkpoint_warehouse(load_config(config.config_path)).summary()

        @task(trigger_rule="all_done")
        def check_published_copy() -> dict[str, Any]:
            from engage.maintenance.published_check import check_published

            result = check_published(load_config(config.config_path))
            return {"version": result.version, "tables": len(result.tables)}

        landing_retention() >> warehouse_checkpoint() >> check_published_copy()
    return dag
