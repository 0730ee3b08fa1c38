"""dbt, run in-process against the working warehouse (one dbt process writes DuckDB)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from engage.config import PipelineConfig
from engage.warehouse.build_plan import NOTHING, plan_build, project_fingerprint, record_build
from engage.warehouse.refresh_state import docs_are_current
from engage.warehouse.schema import ensure_schemas, release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot

WAREHOUSE_ENV = "ENGAGE_WAREHOUSE_PATH"
log = logging.getLogger(__name__)


class TransformError(Exception):
    """dbt reported a failure; the message lists the failing nodes."""


@dataclass(frozen=True)
class NodeResult:
    name: str
    status: str
    message: str


@contextmanager
def dbt_environment(config: PipelineConfig) -> Iterator[dict[str, str]]:
    """The environment dbt's profile reads: the warehouse path; restored afterwards."""
    previous = os.environ.get(WAREHOUSE_ENV)
    os.environ[WAREHOUSE_ENV] = str(config.warehouse_path)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    try:
        yield {WAREHOUSE_ENV: str(config.warehouse_path)}
    finally:
        if previous is None:
            os.environ.pop(WAREHOUSE_ENV, None)
        else:
            os.environ[WAREHOUSE_ENV] = previous


def dbt_vars(config: PipelineConfig) -> dict[str, Any]:
    """Every var the models read (declared with defaults in dbt_project.yml), from the configuration.

    The CLI, the Cosmos DAG and the tests all pass these, so a build reads the same settings
    wherever it runs.
    """
    survey_forms = [
        {"source_instance": name, "system": source.kind, "form_id": form_id, "form_key": form_key}
        for name, source in config.sources.items()
        if source.kind in {"kobotoolbox", "limesurvey"}
        for form_id, form_key in config.survey_settings(name).forms.items()
    ]
    return {
        "demo": config.demo,
        "survey_forms": survey_forms,
        "limesurvey_server_timezones": {
            name: config.survey_settings(name).server_timezone
            for name, source in config.sources.items()
            if source.kind == "limesurvey"
        },
        "freshness_hours": {
            system: {"warn": t.warn_after_hours, "error": t.error_after_hours}
            for system in ("pretix", "kobotoolbox", "limesurvey", "registry")
            for t in [config.freshness.threshold(system)]
        },
    }


def build_exclusions(config: PipelineConfig) -> list[str]:
    """Selectors a build leaves out: the demo's headline-figure tests outside the demo."""
    return [] if config.demo else ["tag:demo_figures"]


def dbt_args(config: PipelineConfig, command: Sequence[str]) -> list[str]:
    """Target and logs beside the warehouse: runs on different warehouses never share a folder."""
    project = config.dbt_dir
    work = docs_target(config).parent
    return [
        *command,
        "--vars",
        json.dumps(dbt_vars(config)),
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]


def run_dbt(
    config: PipelineConfig,
    command: Sequence[str],
    *,
    hold_writer_slot: bool = True,
    on_node: Callable[[str, str], None] | None = None,
) -> list[NodeResult]:
    """Run one dbt command (e.g. ["build"]) and return per-node results; raise on failure."""
    from dbt.cli.main import dbtRunner  # heavy: imported only when dbt actually runs

    def invoke() -> list[NodeResult]:
        with dbt_environment(config):
            try:
                outcome = dbtRunner(callbacks=[_node_callback(on_node)] if on_node else []).invoke(
                    dbt_args(config, [*command, "--quiet"])  # errors still print; progress via on_node
                )
            finally:
                release_in_process_dbt()
        nodes = []
        for result in getattr(outcome.result, "results", None) or []:
            if str(getattr(result.node, "resource_type", "")) in {"exposure", "NodeType.Exposure"}:
                continue  # dbt lists exposures as no-op nodes: they declare, they do not run
            nodes.append(NodeResult(result.node.name, str(result.status), result.message or ""))
        if not outcome.success:
            failed = [f"{n.name}: {n.status} {n.message}" for n in nodes if n.status in {"error", "fail"}]
            detail = "; ".join(failed) or str(outcome.exception or "see the dbt log")
            raise TransformError(f"dbt {' '.join(command)} failed: {detail}")
        return nodes

    if not hold_writer_slot:
        return invoke()
    with writer_slot(config.warehouse_path):
        return invoke()


def _node_callback(on_node: Callable[[str, str], None]) -> Callable[[Any], None]:
    def callback(event: Any) -> None:
        if event.info.name == "NodeFinished":
            on_node(event.data.node_info.node_name, event.data.node_info.node_status)

    return callback


def docs_target(config: PipelineConfig) -> Path:
    return config.warehouse_path.parent / "dbt" / "target"


def generate_docs(config: PipelineConfig) -> Path:
    """`dbt docs generate --static`: one self-contained HTML page of models, columns and lineage."""
    run_dbt(config, ["docs", "generate", "--static"])
    return docs_target(config) / "static_index.html"


def docs_page_to_publish(config: PipelineConfig) -> Path | None:
    """A new docs page when the dbt project changed since the published one; None: it stays."""
    return None if docs_are_current(config) else generate_docs(config)


def build(
    config: PipelineConfig,
    *,
    on_node: Callable[[str, str], None] | None = None,
    full_refresh: bool = False,
    everything: bool = False,
    hold_writer_slot: bool = True,
) -> list[NodeResult]:
    """Seeds, models and tests in dependency order: what the loads since the last build feed, or
    everything after a project change (engage/warehouse/build_plan.py); never the demo-figure
    tests outside the demo. An empty list: every load was already in the last build."""

    def planned() -> list[NodeResult]:
        started_at = datetime.now(UTC)
        release_in_process_dbt()
        with duckdb.connect(str(config.warehouse_path)) as con:
            ensure_schemas(con)
            plan = plan_build(
                con,
                project_fingerprint(config, dbt_vars(config)),
                full_refresh=full_refresh,
                everything=everything,
            )
        log.info("dbt build plan: %s (%s)", plan.kind, plan.reason)
        if plan.kind == NOTHING:
            return []
        nodes = run_dbt(
            config,
            ["build", *plan.dbt_arguments(build_exclusions(config))],
            hold_writer_slot=False,
            on_node=on_node,
        )
        with duckdb.connect(str(config.warehouse_path)) as con:
            record_build(con, plan, started_at)
        return nodes

    if not hold_writer_slot:
        return planned()
    with writer_slot(config.warehouse_path):
        return planned()
