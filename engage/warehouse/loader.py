"""The loader: the only writer of raw tables. Each batch lands exactly once, bad lines in quarantine.

DuckDB reads the landed files itself (read_csv of whole lines, then JSON functions): no row-by-row
inserts and no merge in the hot path. A batch's rows, its quarantined lines and its audit row are
committed in one transaction, so loading a batch twice is a no-op and a crash loads nothing half.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engage.config import PipelineConfig
from engage.landing.batches import Manifest, committed_manifests
from engage.warehouse.schema import ensure_raw_table, ensure_schemas, release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot
from extractors.streams import INVALID_REASON_FIELD

log = logging.getLogger(__name__)

# Whole lines as one column: the record separator never occurs in JSON text (it is escaped).
# A line that is not valid UTF-8 is skipped by the reader and recorded in the rejects table, so
# one corrupt line cannot stop the batch; it is quarantined by its line number instead.
_READ_LINES = (
    "read_csv(?, columns={'line': 'VARCHAR'}, header=false, delim='\x1e', quote='', escape='', "
    "auto_detect=false, max_line_size=268435456, compression='gzip', strict_mode=false, "
    "ignore_errors=true, store_rejects=true, rejects_table='_engage_rejects', "
    "rejects_scan='_engage_reject_scans')"
)
# Lines the reader kept, numbered as in the file: the k-th kept line is the k-th line number that
# was not rejected (the part's row count comes from its verified manifest).
_NUMBER_LINES = """
    insert into _engage_lines
    with rejected as (
        select distinct line as line_number from _engage_rejects
    ),
    numbers as (
        select range as line_number, row_number() over (order by range) as ordinal
        from range(1, ? + 1)
        where range not in (select line_number from rejected)
    )
    select ? + numbers.line_number, kept.line, null
    from _engage_kept as kept inner join numbers using (ordinal)
    union all
    select ? + line_number, null, 'not valid UTF-8 (the landed bytes are kept in the landing zone)'
    from rejected
"""


class CorruptBatchError(Exception):
    """A committed batch does not match its manifest (row count or checksum)."""


@dataclass(frozen=True)
class LoadResult:
    batch_id: str
    source_instance: str
    stream: str
    loaded: int
    quarantined: int
    skipped: bool = False


def verify_batch(directory: Path, manifest: Manifest) -> None:
    """Check every part against the manifest before a row of it reaches the warehouse."""
    for part in manifest.parts:
        digest, rows = hashlib.sha256(), 0
        with gzip.open(directory / part.name, "rb") as handle:
            for line in handle:
                digest.update(line)
                rows += 1
        if rows != part.rows or digest.hexdigest() != part.sha256:
            raise CorruptBatchError(
                f"{directory / part.name}: expected {part.rows} rows with sha256 {part.sha256[:12]}…, "
                f"found {rows} rows with sha256 {digest.hexdigest()[:12]}…"
            )


def _json_path(field: str) -> str:
    return '$."' + field.replace('"', '\\"') + '"'


def _classify_sql(manifest: Manifest) -> tuple[str, list[str]]:
    """SQL that gives each staged line its key, cursor and (if it is bad) the reason why."""
    params: list[str] = []
    key_parts = []
    for field in manifest.primary_key:
        key_parts.append("nullif(trim(json_extract_string(doc, ?)), '')")
        params.append(_json_path(field))
    key_expr = (
        key_parts[0]
        if len(key_parts) == 1
        else f"case when {' or '.join(p + ' is null' for p in key_parts)} then null "
        f"else concat_ws(':', {', '.join(key_parts)}) end"
    )
    params = params if len(key_parts) == 1 else params * 2
    cursor_expr, cursor_checks = "null", ""
    if manifest.cursor_field:
        cursor_expr = "json_extract_string(doc, ?)"
        params.append(_json_path(manifest.cursor_field))
        sql_type, noun = (
            ("timestamptz", "a timestamp")
            if manifest.cursor_type == "timestamp"
            else ("bigint", "an integer")
        )
        cursor_checks = (
            "when cursor_value is null then 'missing cursor field ' || ? "
            f"when try_cast(cursor_value as {sql_type}) is null "
            f"then 'cursor field ' || ? || ' is not {noun}: ' || left(cursor_value, 80)"
        )
    key_names = ", ".join(manifest.primary_key)
    sql = f"""
        with parsed as (
            select line_number, line, read_error,
                   case when json_valid(line) and json_type(line::json) = 'OBJECT'
                        then line::json end as doc,
                   coalesce(json_valid(line), false) as is_json
            from _engage_lines
        ),
        keyed as (
            select *, {key_expr} as record_key, {cursor_expr} as cursor_value from parsed
        )
        select line_number, line, doc, record_key, cursor_value,
               case
                   when read_error is not null then read_error
                   when not is_json then 'unparseable JSON'
                   when doc is null then 'not a JSON object'
                   when json_extract_string(doc, '$.{INVALID_REASON_FIELD}') is not null
                       then json_extract_string(doc, '$.{INVALID_REASON_FIELD}')
                   when record_key is null then 'missing primary key ({key_names})'
                   {cursor_checks}
               end as reason
        from keyed
    """
    if manifest.cursor_field:
        params += [manifest.cursor_field, manifest.cursor_field]
    return sql, params


def _load_part(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rows: int,
    offset: int,
    classify: str,
    params: list[str],
    table: str,
    manifest: Manifest,
) -> tuple[int, int]:
    """Append one part's good lines to the raw table and its bad ones to quarantine (in the caller's
    transaction); returns (loaded, quarantined)."""
    con.execute(
        "create or replace temp table _engage_lines (line_number bigint, line varchar, read_error varchar)"
    )
    # Two statements: the rejects table exists only once the reader has run.
    con.execute(
        f"create or replace temp table _engage_kept as select line, row_number() over () as ordinal "
        f"from {_READ_LINES}",
        [str(path)],
    )
    con.execute(_NUMBER_LINES, [rows, offset, offset])
    for scratch in ("_engage_kept", "_engage_rejects", "_engage_reject_scans"):
        con.execute(f"drop table if exists {scratch}")
    con.execute(f"create or replace temp table _engage_classified as {classify}", params)
    con.execute("drop table _engage_lines")
    con.execute(
        f"""insert into {table}
            select ?, ?, line_number, record_key, cursor_value, doc, now()
            from _engage_classified where reason is null""",
        [manifest.source_instance, manifest.batch_id],
    )
    # Only a quarantined record keeps its raw line: a loaded one lives on as its JSON document.
    con.execute(
        """insert into quarantine.records
           select ?, ?, ?, ?, line_number, reason, line, now()
           from _engage_classified where reason is not null""",
        [manifest.batch_id, manifest.source_instance, manifest.system, manifest.stream],
    )
    counts = con.execute(
        "select count(*) filter (where reason is null), count(*) filter (where reason is not null) "
        "from _engage_classified"
    ).fetchone()
    con.execute("drop table _engage_classified")
    return counts[0], counts[1]


def load_batch(con: duckdb.DuckDBPyConnection, directory: Path, manifest: Manifest) -> LoadResult:
    """Load one committed batch in one transaction; a batch already recorded is skipped."""
    verify_batch(directory, manifest)
    con.execute("begin transaction")
    try:
        if con.execute("select 1 from audit.batches where batch_id = ?", [manifest.batch_id]).fetchone():
            con.execute("rollback")
            return LoadResult(
                manifest.batch_id, manifest.source_instance, manifest.stream, 0, 0, skipped=True
            )
        table = ensure_raw_table(con, manifest.system, manifest.stream)
        classify, params = _classify_sql(manifest)
        loaded = quarantined = offset = 0
        # Part by part inside the one transaction: memory is bounded by a part, not by the batch.
        for part in manifest.parts:
            part_loaded, part_quarantined = _load_part(
                con, directory / part.name, part.rows, offset, classify, params, table, manifest
            )
            loaded += part_loaded
            quarantined += part_quarantined
            offset += part.rows
        con.execute(
            "insert into audit.batches (batch_id, source_instance, system, stream, mode, manifest_rows, "
            "loaded_rows, quarantined_rows, cursor_start, cursor_end, extracted_at, source_count, "
            "source_received, loaded_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
            [
                manifest.batch_id,
                manifest.source_instance,
                manifest.system,
                manifest.stream,
                manifest.mode,
                manifest.row_count,
                loaded,
                quarantined,
                manifest.cursor_start,
                manifest.cursor_end,
                manifest.extracted_at,
                manifest.source_count,
                manifest.source_received,
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return LoadResult(manifest.batch_id, manifest.source_instance, manifest.stream, loaded, quarantined)


def pending_batches(con: duckdb.DuckDBPyConnection, config: PipelineConfig) -> list[tuple[Path, Manifest]]:
    loaded = {row[0] for row in con.execute("select batch_id from audit.batches").fetchall()}
    return [(d, m) for d, m in committed_manifests(config.landing_dir) if m.batch_id not in loaded]


def load_pending(
    config: PipelineConfig, *, on_batch: Callable[[LoadResult], None] | None = None
) -> list[LoadResult]:
    """Load every committed batch the warehouse has not seen, oldest first, under the writer slot."""
    results = []
    release_in_process_dbt()
    with writer_slot(config.warehouse_path), duckdb.connect(str(config.warehouse_path)) as con:
        ensure_schemas(con)
        for directory, manifest in pending_batches(con, config):
            result = load_batch(con, directory, manifest)
            log.info(
                "loaded %s/%s batch %s: %d rows, %d quarantined",
                result.source_instance,
                result.stream,
                result.batch_id,
                result.loaded,
                result.quarantined,
            )
            results.append(result)
            if on_batch:
                on_batch(result)
    return results
