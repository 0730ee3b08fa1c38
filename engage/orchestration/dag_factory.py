"""Airflow DAGs built from the pipeline configuration; the files in dags/ only call these.

Parsing stays cheap: the configuration is a small YAML file, nothing of dbt is rendered at parse
time (the warehouse DAG runs dbt as one task, see docs/webhooks.md), and every heavy import
happens inside the task that needs it.
"""

from __future__ import annotations

from datetime import timedelta
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
    """Stable per stream: a partner push (webhook) raises it for the one stream it landed."""
    return Asset(
        name=f"engage_landing_{source_name}_{stream}", uri=f"engage://landing/{source_name}/{stream}"
    )


def source_landed_asset(source_name: str) -> Asset:
    """Stable per source: raised once a source's extract run has landed all its streams."""
    # Not engage_landing_<source>: that could be source "a" + stream "b_c" as well as source "a_b".
    return Asset(name=f"engage_source_landed_{source_name}", uri=f"engage://landing/{source_name}")


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
    from airflow.utils.types import DagRunType

    from extractors.streams import Window

    dag_run = context["dag_run"]
    asked = (dag_run.conf or {}).get("window") == "data_interval"
    # By value: a live task sees the Task SDK's own enum (DagRunType.BACKFILL, value "backfill").
    if DagRunType(dag_run.run_type) != DagRunType.BACKFILL_JOB and not asked:
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
            "batches with manifests. Never opens the warehouse. A stream with nothing new is skipped; "
            "`source_landed` emits the source's asset once every stream is done (at least one "
            "landed, none failed), and the warehouse DAG loads what landed."
        ),
    ) as dag:
        extracts = []
        for stream in source.streams:

            @task(
                task_id=f"extract_{stream}", on_failure_callback=_alert_callback(config, source_name, stream)
            )
            def extract(stream_name: str = stream) -> dict[str, Any]:
                from airflow.sdk import get_current_context
                from airflow.sdk.exceptions import AirflowSkipException

                from engage.extract import extract_stream

                window = run_window(get_current_context())
                result = extract_stream(
                    load_config(config.config_path), source_name, stream_name, window=window
                )
                if result.batch_id is None:  # quiet: a stream with nothing new raises no event
                    raise AirflowSkipException(f"{source_name}/{stream_name}: {result.note or 'nothing new'}")
                return {"batch_id": result.batch_id, "records": result.records, "note": result.note}

            extracts.append(extract())

        @task(
            task_id="source_landed",
            outlets=[source_landed_asset(source_name)],
            # Once every stream is done: at least one landed, none failed (a failed stream's
            # siblings are loaded by the next refresh, never half a source's run on its own).
            trigger_rule="none_failed_min_one_success",
        )
        def source_landed() -> dict[str, Any]:
            from airflow.sdk import get_current_context

            context = get_current_context()
            ids = [f"extract_{stream}" for stream in source.streams]
            batches = [b for b in context["ti"].xcom_pull(task_ids=ids) or [] if b]  # skipped: none
            extra = {
                "batches": [b["batch_id"] for b in batches],
                "records": sum(b["records"] for b in batches),
            }
            context["outlet_events"][source_landed_asset(source_name)].extra = extra
            return extra

        extracts >> source_landed()
    return dag


def build_extract_dags(config: PipelineConfig | None = None) -> dict[str, DAG]:
    config = config or load_config()
    dags = (build_extract_dag(config, name) for name in config.sources)
    return {dag.dag_id: dag for dag in dags}


def _run_conf(key: str) -> bool:
    from airflow.sdk import get_current_context

    return bool((get_current_context()["dag_run"].conf or {}).get(key))


def build_warehouse_dag(config: PipelineConfig | None = None) -> DAG:
    config = config or load_config()
    sources = [source_landed_asset(name) for name in config.sources]
    pushes = [landed_asset(name, stream) for name, src in config.sources.items() for stream in src.streams]
    with DAG(
        dag_id="engage_warehouse",
        description="Load landed batches, build the warehouse with dbt, publish the marts",
        schedule=AssetAny(*sources, *pushes),
        start_date=START_DATE.in_timezone(config.timezone),
        catchup=False,
        max_active_runs=1,
        default_args={
            **_default_args("data-engineering"),
            "on_failure_callback": _alert_callback(config, "all", "all"),
        },
        tags=["engage", "warehouse"],
        doc_md=(
            "Runs when a source's extract run has landed all its streams (`engage://landing/<source>`) "
            "or a partner push landed one (`engage://landing/<source>/<stream>`), and loads what is "
            "committed then. dbt rebuilds what the new loads feed (everything after a change to the dbt "
            "project). Nothing new loaded: dbt and publish are skipped (conf "
            '`{"rebuild": true}` rebuilds anyway, `{"full_refresh": true}` from the raw tables). dbt is '
            "one `dbt build` process; its log lists each node as it finishes. The publish gate keeps "
            "the published version when a fact table or headline KPI would shrink (conf "
            '`{"allow_shrink": true}` for a deliberate change). Every task takes the one-slot '
            "`engage_writer` pool: DuckDB has a single writer. Emits "
            "`engage_marts` once the published copy is replaced."
        ),
    ) as dag:

        @task(pool=WRITER_POOL)
        def load() -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowSkipException

            from engage.orchestration.freshness_alerts import alert_stale
            from engage.warehouse.freshness import check_freshness
            from engage.warehouse.loader import load_pending
            from engage.warehouse.refresh_state import has_unpublished_loads

            current = load_config(config.config_path)
            results = load_pending(current)
            # Freshness of what is now loaded, before any skip: a source that went quiet is exactly
            # the case to alert on. A stale source alerts; the refresh goes on.
            freshness = check_freshness(current)
            alert_stale(current, freshness, where="engage_warehouse")
            forced = _run_conf("rebuild") or _run_conf("full_refresh")
            if not results and not forced and not has_unpublished_loads(current):
                from engage.warehouse.publish import remove_unfinished_publish

                remove_unfinished_publish(current)  # a killed publish's temp files go now, not later
                raise AirflowSkipException("nothing new loaded and the published version is current")
            return {
                "batches": len(results),
                "loaded": sum(r.loaded for r in results),
                "quarantined": sum(r.quarantined for r in results),
                "stale_sources": [item.line() for item in freshness if item.is_stale],
            }

        @task(pool=WRITER_POOL)
        def dbt_build() -> dict[str, int]:
            import logging

            from engage.pipeline import transform  # `engage run`'s: a failure names unmapped forms

            node_log = logging.getLogger("engage.dbt")
            nodes = transform(
                load_config(config.config_path),
                on_dbt_node=lambda name, status: node_log.info("%s %s", name, status),
                full_refresh=_run_conf("full_refresh"),
                everything=_run_conf("rebuild"),
            )
            statuses: dict[str, int] = {}
            for node in nodes:
                statuses[node.status] = statuses.get(node.status, 0) + 1
            return {"nodes": len(nodes), **statuses}

        @task(pool=WRITER_POOL, outlets=[MARTS_ASSET])
        def publish() -> dict[str, int]:
            from airflow.sdk.exceptions import AirflowFailException

            from engage.warehouse.dbt import docs_page_to_publish
            from engage.warehouse.publish import publish as publish_marts
            from engage.warehouse.publish_gate import PublishBlocked

            current = load_config(config.config_path)
            docs = docs_page_to_publish(current)
            try:
                published = publish_marts(current, docs_page=docs, allow_shrink=_run_conf("allow_shrink"))
            except PublishBlocked as exc:  # no retry: the same marts would be blocked again
                raise AirflowFailException(str(exc)) from None
            return published.tables

        load() >> dbt_build() >> publish()
    return dag
