"""Which dbt build a refresh needs: the whole project, or only what the new loads feed.

A refresh after new data rebuilds the models downstream of the source tables (system and stream)
that loaded something since the last successful build (`dbt build --select
source:<system>.<stream>+`), with their data tests; the rest of the warehouse is a function of
inputs that did not change, so it is already current. (By stream, not by system: new pretix
orders leave the survey models, which read only pretix's events, as they are: 171 of 234 nodes.)
Everything is rebuilt from raw (`--full-refresh`, unit tests included) when there was no
successful build yet, or when the dbt project or the settings it reads (vars) changed since: a
changed model may need its incremental table rebuilt, and a changed unit test must run.

Every successful build is recorded in `audit.dbt_builds` (engage/warehouse/schema.py): the plan,
its project fingerprint and when it started. Loads and builds never overlap (both hold the
writer slot), so "loaded since the last build" is exact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import duckdb

from engage.config import PipelineConfig

# What a build's result depends on besides the data (target/, logs/ and packages are outputs).
PROJECT_INPUTS = ("models", "macros", "seeds", "snapshots", "tests", "dbt_project.yml", "packages.yml")

FULL_REFRESH, EVERYTHING, CHANGED, NOTHING = "full_refresh", "everything", "changed", "nothing"


@dataclass(frozen=True)
class BuildPlan:
    kind: str  # FULL_REFRESH, EVERYTHING, CHANGED or NOTHING
    reason: str
    fingerprint: str
    streams: tuple[str, ...] = ()  # CHANGED: the source tables loaded since the last build, "system.stream"

    def dbt_arguments(self, exclude: list[str]) -> list[str]:
        """`dbt build`'s arguments after "build" (NOTHING: no build at all)."""
        excluded = ["--exclude", *exclude] if exclude else []
        if self.kind == FULL_REFRESH:
            return ["--full-refresh", *excluded]
        if self.kind == EVERYTHING:
            return excluded
        # Unit tests check the SQL, not the data: they ran in the build after the project last
        # changed (and in `make test`); a data refresh does not need them again.
        selected = [f"source:{stream}+" for stream in self.streams]
        return ["--select", *selected, *excluded, "--exclude-resource-type", "unit_test"]


def project_files(project: Path) -> list[Path]:
    """Every file of the dbt project that a build (and its docs page) is made from, in a fixed order."""
    files: list[Path] = []
    for name in PROJECT_INPUTS:
        root = project / name
        files += [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return files


def project_fingerprint(config: PipelineConfig, dbt_vars: dict[str, object]) -> str:
    """sha256 of the dbt project's files, the vars a build passes and the dbt version."""
    digest = hashlib.sha256()
    project = config.dbt_dir
    for path in project_files(project):
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(dbt_vars, sort_keys=True).encode())
    digest.update(version("dbt-core").encode() + version("dbt-duckdb").encode())
    return digest.hexdigest()


def plan_build(
    con: duckdb.DuckDBPyConnection,
    fingerprint: str,
    *,
    full_refresh: bool = False,
    everything: bool = False,
) -> BuildPlan:
    """The build this refresh needs; `con` is the warehouse, under the writer slot."""
    if full_refresh:
        return BuildPlan(FULL_REFRESH, "a full refresh was asked for", fingerprint)
    last = con.execute(
        "select fingerprint, started_at from audit.dbt_builds order by started_at desc limit 1"
    ).fetchone()
    if last is None:
        return BuildPlan(FULL_REFRESH, "no successful build yet", fingerprint)
    if last[0] != fingerprint:
        reason = "the dbt project or its settings changed since the last build"
        return BuildPlan(FULL_REFRESH, reason, fingerprint)
    if everything:
        return BuildPlan(EVERYTHING, "a rebuild was asked for", fingerprint)
    streams = tuple(
        row[0]
        for row in con.execute(
            "select distinct system || '.' || stream as loaded from audit.batches where loaded_at > ? "
            "order by loaded",
            [last[1]],
        ).fetchall()
    )
    if not streams:
        return BuildPlan(NOTHING, "every load is in the last build", fingerprint)
    return BuildPlan(CHANGED, f"loaded since the last build: {', '.join(streams)}", fingerprint, streams)


def record_build(con: duckdb.DuckDBPyConnection, plan: BuildPlan, started_at: datetime) -> None:
    con.execute(
        "insert into audit.dbt_builds (started_at, finished_at, fingerprint, kind, systems) "
        "values (?, now(), ?, ?, ?)",
        [started_at, plan.fingerprint, plan.kind, ",".join(plan.streams)],
    )
