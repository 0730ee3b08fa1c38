"""The loader: the only writer of raw tables. Each batch lands exactly once, bad lines in quarantine.

Each part is read once (gzip, then its sha256 and row count checked against the manifest over the
same bytes) and handed to DuckDB as an Arrow table of numbered lines; DuckDB parses each line into
JSON once and takes key, cursor and quarantine reason in one call: no row-by-row inserts and no
merge in the hot path. Memory is bounded by the parts in flight (two), not by the batch. A
batch's rows, its quarantined lines and its audit row are committed in one transaction, so
loading a batch twice is a no-op and a crash loads nothing half.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import duckdb
import pyarrow as pa

from engage.config import PipelineConfig
from engage.landing.batches import Manifest, PartInfo, committed_manifests
from engage.warehouse.schema import ensure_raw_table, ensure_schemas, release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot
from extractors.streams import INVALID_REASON_FIELD

log = logging.getLogger(__name__)

# Lines without a line break, with their verified line numbers: Python reads each part once
# (gzip, then sha256 and the row count over the same bytes, as the manifest computed them) and
# hands DuckDB one Arrow table, so no second pass verifies and no window numbers the lines.
_PART_SCHEMA = pa.schema(
    [("line_number", pa.int64()), ("line", pa.large_string()), ("read_error", pa.string())]
)
_NOT_UTF8 = "not valid UTF-8 (the landed bytes are kept in the landing zone)"
_BATCH_ROWS = 16_384  # rows per Arrow batch: DuckDB scans the batches on all its threads
# DuckDB's memory for a load (ENGAGE_LOAD_MEMORY_LIMIT). Unbounded, it keeps up to 80 % of the
# machine as cache: a 1M-record batch reached 1.23 GB; held to 1GB, 0.82 GB and no slower.
LOAD_MEMORY_LIMIT_DEFAULT = "1GB"


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


def _read_part(path: Path, part: PartInfo, offset: int) -> pa.Table:
    """One part's lines, numbered from offset + 1, once its bytes match the manifest."""
    data = gzip.decompress(path.read_bytes())
    digest = hashlib.sha256(data).hexdigest()
    breaks, find, at = [], data.find, data.find(b"\n")
    while at >= 0:
        breaks.append(at)
        at = find(b"\n", at + 1)
    if data and not data.endswith(b"\n"):
        breaks.append(len(data))  # a last line without a line break is a line all the same
    rows = len(breaks)
    if rows != part.rows or digest != part.sha256:
        raise CorruptBatchError(
            f"{path}: expected {part.rows} rows with sha256 {part.sha256[:12]}…, "
            f"found {rows} rows with sha256 {digest[:12]}…"
        )
    numbers = pa.Array.from_buffers(
        pa.int64(), rows, [None, pa.py_buffer(array("q", range(offset + 1, offset + rows + 1)))]
    )
    # Line i is body[ends[i]:ends[i + 1]]: the line breaks taken out, their positions kept.
    ends = array("q", [0])
    ends.extend(at - i for i, at in enumerate(breaks))
    body = data.replace(b"\n", b"")
    lines = pa.Array.from_buffers(pa.large_string(), rows, [None, pa.py_buffer(ends), pa.py_buffer(body)])
    try:
        lines.validate(full=True)  # UTF-8 throughout
    except pa.ArrowInvalid:  # a corrupt file: only its bad lines go to quarantine
        return _read_lines_one_by_one(data, numbers)
    return pa.Table.from_arrays([numbers, lines, pa.nulls(rows, pa.string())], schema=_PART_SCHEMA)


def _read_lines_one_by_one(data: bytes, numbers: pa.Array) -> pa.Table:
    texts: list[str | None] = []
    for raw in data.split(b"\n")[: len(numbers)]:
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(None)
    errors = [None if text is not None else _NOT_UTF8 for text in texts]
    return pa.Table.from_arrays(
        [numbers, pa.array(texts, pa.large_string()), pa.array(errors, pa.string())], schema=_PART_SCHEMA
    )


def _read_ahead(directory: Path, manifest: Manifest) -> Iterator[pa.Table]:
    """Each part's lines in turn; the next part is read on a thread (gzip, hashlib and DuckDB let go
    of the GIL) while the caller loads this one."""
    starts = accumulate((part.rows for part in manifest.parts), initial=0)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="engage-read") as reader:
        pending: Future[pa.Table] | None = None
        for part, start in zip(manifest.parts, starts, strict=False):
            read = reader.submit(_read_part, directory / part.name, part, start)
            if pending is not None:
                yield pending.result()
            pending = read
        if pending is not None:
            yield pending.result()


def verify_batch(directory: Path, manifest: Manifest) -> None:
    """Check every part against the manifest (the loader checks each part as it reads it)."""
    offset = 0
    for part in manifest.parts:
        _read_part(directory / part.name, part, offset)
        offset += part.rows


def _json_path(field: str) -> str:
    return '$."' + field.replace('"', '\\"') + '"'


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _classify_sql(manifest: Manifest) -> str:
    """SQL that gives each line of _engage_part its document, key, cursor and (if it is bad) the
    reason why. Each line is parsed twice at most: once into JSON, once for all the fields at once."""
    paths = [*manifest.primary_key, INVALID_REASON_FIELD]
    if manifest.cursor_field:
        paths.append(manifest.cursor_field)
    path_list = "[" + ", ".join(_sql_string(_json_path(p)) for p in paths) + "]"
    key_parts = [f"nullif(trim(fields[{i + 1}]), '')" for i in range(len(manifest.primary_key))]
    key_expr = (
        key_parts[0]
        if len(key_parts) == 1
        else f"case when {' or '.join(p + ' is null' for p in key_parts)} then null "
        f"else concat_ws(':', {', '.join(key_parts)}) end"
    )
    flagged = f"fields[{len(manifest.primary_key) + 1}]"
    cursor_expr, cursor_checks = "null", ""
    if manifest.cursor_field:
        cursor_expr = f"fields[{len(paths)}]"
        sql_type, noun = (
            ("timestamptz", "a timestamp")
            if manifest.cursor_type == "timestamp"
            else ("bigint", "an integer")
        )
        name = _sql_string(manifest.cursor_field)
        cursor_checks = (
            f"when cursor_value is null then 'missing cursor field ' || {name} "
            f"when try_cast(cursor_value as {sql_type}) is null "
            f"then 'cursor field ' || {name} || ' is not {noun}: ' || left(cursor_value, 80)"
        )
    key_names = _sql_string(", ".join(manifest.primary_key))
    return f"""
        with parsed as (
            select line_number, line, read_error, try_cast(line as json) as doc from _engage_part
        ),
        extracted as (
            select *, json_extract_string(doc, {path_list}) as fields from parsed
        ),
        keyed as (
            select line_number, line, read_error, doc, {flagged} as flagged,
                   {key_expr} as record_key, {cursor_expr} as cursor_value
            from extracted
        )
        select line_number, line, doc, record_key, cursor_value,
               case
                   when read_error is not null then read_error
                   when doc is null then 'unparseable JSON'
                   -- valid JSON is an object exactly when its first character (past blanks) is {{
                   when not (case when starts_with(line, '{{') then true
                                  else json_type(doc) = 'OBJECT' end) then 'not a JSON object'
                   when flagged is not null then flagged
                   when record_key is null then 'missing primary key (' || {key_names} || ')'
                   {cursor_checks}
               end as reason
        from keyed
    """


def _load_part(
    con: duckdb.DuckDBPyConnection, lines: pa.Table, classify: str, table: str, manifest: Manifest
) -> tuple[int, int]:
    """Append one part's good lines to the raw table and its bad ones to quarantine (in the caller's
    transaction); returns (loaded, quarantined)."""
    # A relation's query, not con.register: a view registered inside a transaction keeps its Arrow
    # table alive until the commit, so a 1M-record batch held every part it had loaded (1.3 GB).
    part = con.from_arrow(pa.Table.from_batches(lines.to_batches(max_chunksize=_BATCH_ROWS)))
    instance, batch = _sql_string(manifest.source_instance), _sql_string(manifest.batch_id)
    [(loaded,)] = part.query(
        "_engage_part",
        f"""insert into {table}
            select {instance}, {batch}, line_number, record_key, cursor_value, doc, now()
            from ({classify}) where reason is null""",
    ).fetchall()
    quarantined = 0
    if loaded < lines.num_rows:  # the lines are classified again only in a part with bad ones
        # Only a quarantined record keeps its raw line: a loaded one lives on as its JSON document.
        system, stream = _sql_string(manifest.system), _sql_string(manifest.stream)
        [(quarantined,)] = part.query(
            "_engage_part",
            f"""insert into quarantine.records
                select {batch}, {instance}, {system}, {stream}, line_number, reason, line, now()
                from ({classify}) where reason is not null""",
        ).fetchall()
    return loaded, quarantined


def load_batch(con: duckdb.DuckDBPyConnection, directory: Path, manifest: Manifest) -> LoadResult:
    """Load one committed batch in one transaction; a batch already recorded is skipped."""
    con.execute("begin transaction")
    try:
        if con.execute("select 1 from audit.batches where batch_id = ?", [manifest.batch_id]).fetchone():
            con.execute("rollback")
            return LoadResult(
                manifest.batch_id, manifest.source_instance, manifest.stream, 0, 0, skipped=True
            )
        table = ensure_raw_table(con, manifest.system, manifest.stream)
        classify = _classify_sql(manifest)
        loaded = quarantined = 0
        # Part by part inside the one transaction: memory is bounded by two parts (the one DuckDB
        # loads, the next one being read), not by the batch. A part that does not match the
        # manifest raises before any of its lines is inserted; the rollback takes back the others.
        with closing(_read_ahead(directory, manifest)) as parts:
            for lines in parts:
                part_loaded, part_quarantined = _load_part(con, lines, classify, table, manifest)
                loaded += part_loaded
                quarantined += part_quarantined
                del lines
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


def connect_for_loading(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse, opened for writing with the loader's memory limit."""
    limit = os.environ.get("ENGAGE_LOAD_MEMORY_LIMIT") or LOAD_MEMORY_LIMIT_DEFAULT
    try:
        return duckdb.connect(str(warehouse), config={"memory_limit": limit})
    except (duckdb.InvalidInputException, duckdb.ParserException) as error:
        raise ValueError(
            f"environment variable ENGAGE_LOAD_MEMORY_LIMIT={limit!r}: expected a DuckDB memory size "
            f"such as 1GB or 512MB ({error})"
        ) from None


def pending_batches(con: duckdb.DuckDBPyConnection, config: PipelineConfig) -> list[tuple[Path, Manifest]]:
    loaded = {row[0] for row in con.execute("select batch_id from audit.batches").fetchall()}
    return [(d, m) for d, m in committed_manifests(config.landing_dir) if m.batch_id not in loaded]


def load_pending(
    config: PipelineConfig, *, on_batch: Callable[[LoadResult], None] | None = None
) -> list[LoadResult]:
    """Load every committed batch the warehouse has not seen, oldest first, under the writer slot."""
    results = []
    release_in_process_dbt()
    with writer_slot(config.warehouse_path), connect_for_loading(config.warehouse_path) as con:
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
