"""Helpers for the crash-safety and concurrent-reader tests.

The harness runs the real command line (`engage run --config X`) as a subprocess and kills it with
SIGKILL at a chosen point. Points are chosen from file-system progress (polled every few
milliseconds), not from hooks in production code: "the k-th part file of a batch without a
manifest", "a new manifest", "the warehouse's WAL", "the k-th dbt node's compiled SQL", "the
temporary marts file", "the published marts file replaced".
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from engage.landing.batches import MANIFEST_NAME, committed_manifests

ENGAGE = str(Path(sys.executable).with_name("engage"))
POLL_SECONDS = 0.005


@dataclass(frozen=True)
class Snapshot:
    """What the run folder held when the harness started a run (triggers look for what is new)."""

    manifests: frozenset[str]
    marts_inode: int | None
    temp_marts: frozenset[str]


def snapshot(folder: Path) -> Snapshot:
    marts = folder / "marts.duckdb"
    return Snapshot(
        manifests=frozenset(str(p) for p in folder.glob(f"landing/*/*/batch=*/{MANIFEST_NAME}")),
        marts_inode=marts.stat().st_ino if marts.exists() else None,
        temp_marts=frozenset(str(p) for p in folder.glob(".marts.duckdb.*.tmp")),
    )


Trigger = Callable[[Path, Snapshot], bool]


def parts_without_manifest(folder: Path, _: Snapshot) -> bool:
    """Extraction in progress: a part file in a batch folder that has no manifest yet."""
    for part in folder.glob("landing/*/*/batch=*/part-*.ndjson.gz"):
        if not (part.parent / MANIFEST_NAME).exists():
            return True
    return False


def new_manifest(folder: Path, before: Snapshot) -> bool:
    """Right after a batch was committed."""
    found = {str(p) for p in folder.glob(f"landing/*/*/batch=*/{MANIFEST_NAME}")}
    return bool(found - before.manifests)


def warehouse_wal(folder: Path, _: Snapshot) -> bool:
    """Loading has begun writing to the warehouse."""
    return (folder / "warehouse.duckdb.wal").exists()


def dbt_nodes_run(count: int) -> Trigger:
    """dbt build is under way: at least `count` nodes have written their compiled SQL."""

    def trigger(folder: Path, _: Snapshot) -> bool:
        run = folder / "dbt" / "target" / "run"
        return run.is_dir() and sum(1 for _ in run.rglob("*.sql")) >= count

    trigger.__name__ = f"dbt_nodes_run_{count}"
    return trigger


def temp_marts(folder: Path, before: Snapshot) -> bool:
    """Publishing: the temporary marts file is being written."""
    return bool({str(p) for p in folder.glob(".marts.duckdb.*.tmp")} - before.temp_marts)


def marts_replaced(folder: Path, before: Snapshot) -> bool:
    """Just after the published database was renamed into place (symlink swap may be pending)."""
    marts = folder / "marts.duckdb"
    try:
        return marts.stat().st_ino != before.marts_inode
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class KillPoint:
    label: str
    trigger: Trigger
    delay: float = 0.0  # seconds after the trigger fired
    # `engage run --rebuild`: a publish-stage point must be reached even when the run before it was
    # killed after the published copy was already whole (a plain run would then skip publish)
    rebuild: bool = False


@dataclass
class KillOutcome:
    label: str
    killed: bool  # False: the run finished before the trigger fired
    returncode: int | None
    seconds: float
    published_check: str  # "absent" or "complete (<version>)"
    output: str = field(repr=False, default="")


def engage_env(token_env: str, token: str) -> dict[str, str]:
    env = {**os.environ, token_env: token, "PYTHONUNBUFFERED": "1"}
    env.pop("ENGAGE_WAREHOUSE_PATH", None)
    return env


def run_engage(config: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ENGAGE, "run", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_and_kill(config: Path, env: dict[str, str], point: KillPoint, timeout: float = 300) -> KillOutcome:
    """Start `engage run`, SIGKILL it once `point` fires, and check the published copy at that moment."""
    folder = config.parent
    before = snapshot(folder)
    log = folder / f"engage-{point.label}.log"
    started = time.monotonic()
    with open(log, "w+", encoding="utf-8") as out:
        process = subprocess.Popen(
            [ENGAGE, "run", "--config", str(config), *(["--rebuild"] if point.rebuild else [])],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        fired_at = None
        try:
            while process.poll() is None:
                now = time.monotonic()
                if now - started > timeout:
                    raise TimeoutError(f"{point.label}: engage run did not reach its kill point")
                if fired_at is None and point.trigger(folder, before):
                    fired_at = now
                if fired_at is not None and now - fired_at >= point.delay:
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(POLL_SECONDS)
            returncode = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        out.seek(0)
        output = out.read()
    killed = returncode == -signal.SIGKILL
    return KillOutcome(
        point.label,
        killed,
        returncode,
        time.monotonic() - started,
        check_published_copy(folder / "marts.duckdb"),
        output,
    )


EXPECTED_MART_TABLES: set[str] = set()  # filled from the reference run by the test


def check_published_copy(marts: Path, expected_tables: set[str] | None = None) -> str:
    """The published database is absent (never published yet) or opens read-only and is complete."""
    if not marts.exists():
        return "absent"
    expected = expected_tables if expected_tables is not None else EXPECTED_MART_TABLES
    with duckdb.connect(str(marts), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        missing = (expected | {"_published"}) - tables
        if missing:
            raise AssertionError(f"published copy {marts} is partial: missing {sorted(missing)}")
        for table in tables:
            con.execute(f'select count(*) from "{table}"').fetchone()
        [version] = con.execute("select version from _published").fetchone()
    return f"complete ({version})"


def table_digests(database: Path, schema: str | None = None) -> dict[str, tuple[int, str]]:
    """Per table: row count and a hash of its rows, sorted (order-independent, type-faithful)."""
    result = {}
    with duckdb.connect(str(database), read_only=True) as con:
        # `_published` and publish's `_quality_*` tables are metadata (times, batch counts), not marts.
        query = "select schema_name, table_name from duckdb_tables() where not starts_with(table_name, '_')"
        params: list[str] = []
        if schema:
            query += " and schema_name = ?"
            params.append(schema)
        for table_schema, table in con.execute(query, params).fetchall():
            rows = con.execute(f'select * from "{table_schema}"."{table}"').fetchall()
            lines = sorted(repr(row) for row in rows)
            digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
            result[f"{table_schema}.{table}"] = (len(rows), digest)
    return result


def raw_counts(warehouse: Path) -> dict[str, tuple[int, int, int]]:
    """Per raw table: rows, distinct (batch_id, line_number), distinct record keys."""
    result = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()
        for (table,) in tables:
            result[table] = con.execute(
                f"select count(*), count(distinct (batch_id, line_number)), count(distinct record_key) "
                f'from raw."{table}"'
            ).fetchone()
    return result


def audit_matches_manifests(folder: Path, warehouse: Path) -> int:
    """audit.batches holds exactly the committed manifests, each with its row count; returns how many."""
    manifests = {m.batch_id: m for _, m in committed_manifests(folder / "landing")}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        audited = {
            row[0]: row[1:]
            for row in con.execute(
                "select batch_id, manifest_rows, loaded_rows, quarantined_rows from audit.batches"
            ).fetchall()
        }
        per_batch = dict(
            con.execute(
                "select batch_id, sum(n) from ("
                + " union all ".join(
                    f'select batch_id, count(*) n from raw."{t}" group by all'
                    for (t,) in con.execute(
                        "select table_name from duckdb_tables() where schema_name = 'raw'"
                    ).fetchall()
                )
                + ") group by all"
            ).fetchall()
        )
    assert set(audited) == set(manifests), sorted(set(audited) ^ set(manifests))
    for batch_id, manifest in manifests.items():
        manifest_rows, loaded, quarantined = audited[batch_id]
        assert manifest_rows == manifest.row_count == loaded + quarantined, batch_id
        assert per_batch.get(batch_id, 0) == loaded, batch_id  # each landed line loaded once
    return len(manifests)
