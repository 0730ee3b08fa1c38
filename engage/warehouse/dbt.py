"""dbt, run in-process against the working warehouse (one dbt process writes DuckDB)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engage.config import PipelineConfig
from engage.warehouse.schema import release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot

WAREHOUSE_ENV = "ENGAGE_WAREHOUSE_PATH"


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


def dbt_args(config: PipelineConfig, command: Sequence[str]) -> list[str]:
    """Target and logs beside the warehouse: runs on different warehouses never share a folder."""
    project = config.dbt_dir
    work = docs_target(config).parent
    return [
        *command,
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
            if str(getattr(result.node, "resource_type", "")) == "exposure":
                continue  # `dbt build` lists exposures (the report) as no-op nodes: nothing was built
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


def build(config: PipelineConfig, *, on_node: Callable[[str, str], None] | None = None) -> list[NodeResult]:
    """Seeds, models and tests in dependency order."""
    return run_dbt(config, ["build"], on_node=on_node)
