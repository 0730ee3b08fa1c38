"""Erasure of one person: landing zone, raw tables, quarantine, marts and the published copy.

The person is found by pseudonym (the keyed hash the extractors wrote in place of their email or
name), never by the identifier itself: the pipeline holds no emails. Pseudonyms are 32 random-
looking hex characters, so looking for them as a substring of a landed line or of a record's JSON
text is exact enough (a false match would need 128 bits of another hex string to coincide).

What goes:
- a record whose own fields carry the pseudonym (an order bought by the person, a check-in of
  their position, a survey response, a registry row) is dropped whole;
- a record that carries it only inside items of a list (a group order's `positions`, one of which
  is the person's) keeps its other items: only the person's items go, so co-attendees stay;
- the person's email and name typed into someone else's kept free text (a survey answer, an
  organisation field) are replaced by `[erased]`, in landing, raw and quarantine alike.

The identifiers stay in this process's memory: they are never logged, stored or handed to dbt (dbt
logs its command line, so it runs with the command line reduced to `engage erase`).

Erasure is idempotent: re-running it (after a crash, or for a second request) finds nothing more
and reports zero removals. See docs/privacy.md for what it cannot reach (the partner's own system).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import secrets as secrets_module
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from engage.config import PipelineConfig
from engage.landing.batches import MANIFEST_NAME, PartInfo, committed_manifests, encode_record
from engage.privacy.pseudonymise import Pseudonymiser
from engage.privacy.suppression import add_suppressed, scrub_record
from engage.warehouse.schema import ensure_schemas, quote_identifier, release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot


@dataclass
class ErasureSummary:
    erasure_id: str
    erased_at: str
    landing_batches_rewritten: int = 0
    landing_records_removed: int = 0
    landing_records_changed: int = 0  # kept, with the person's list items taken out
    raw_rows_removed: int = 0
    raw_rows_changed: int = 0
    quarantine_rows_removed: int = 0
    per_place: dict[str, int] = field(default_factory=dict)  # "landing:<source>/<stream>", "raw.<table>"
    published_version: str | None = None

    @property
    def total_removed(self) -> int:
        return (
            self.landing_records_removed
            + self.landing_records_changed
            + self.raw_rows_removed
            + self.raw_rows_changed
            + self.quarantine_rows_removed
        )


def pseudonyms_for(config: PipelineConfig, email: str, name: str | None = None) -> list[str]:
    """The person's pseudonyms with the configured key (MissingKeyError when there is none)."""
    pseudonymiser = Pseudonymiser.from_environment(
        config.privacy.key_env, allow_demo_key=config.privacy.allow_demo_key
    )
    values = [email] + ([name] if name and name.strip() else [])
    return [pseudonymiser.pseudonym(v) for v in values if v and v.strip()]


# -- matching and scrubbing one record ---------------------------------------------------------------
ERASED_PLACEHOLDER = "[erased]"


def identifier_pattern(email: str, name: str | None) -> str:
    """One case-insensitive pattern for the email and the name as typed in free text (any spacing).

    Written in the subset Python's `re` and DuckDB's RE2 share, so the warehouse pre-filters rows
    with the same pattern the rows are then cleaned with."""
    parts = [re.escape(email.strip())]
    if name and name.split():
        parts.append(r"\b" + r"\s+".join(re.escape(token) for token in name.split()) + r"\b")
    return "(?i)(" + "|".join(parts) + ")"


def _redact_text(value: Any, pattern: re.Pattern[str]) -> tuple[Any, bool]:
    """Every string inside the value with the identifiers replaced; (value, changed?)."""
    if isinstance(value, str):
        cleaned = pattern.sub(ERASED_PLACEHOLDER, value)
        return cleaned, cleaned != value
    if isinstance(value, list):
        items = [_redact_text(item, pattern) for item in value]
        return [i for i, _ in items], any(c for _, c in items)
    if isinstance(value, dict):
        entries = {k: _redact_text(v, pattern) for k, v in value.items()}
        return {k: v for k, (v, _) in entries.items()}, any(c for _, c in entries.values())
    return value, False


def clean_record(record: Any, needles: list[str], pattern: re.Pattern[str]) -> tuple[Any | None, bool]:
    """The record without the person: their own records dropped (None), their text redacted."""
    record, redacted = _redact_text(record, pattern)
    cleaned, scrubbed = scrub_record(record, needles)
    return cleaned, redacted or scrubbed


@contextmanager
def _command_line_without_identifiers() -> Iterator[None]:
    """dbt writes `sys.argv` into its log ('invocation_command'): hide `--email X` from it."""
    saved = sys.argv
    sys.argv = [saved[0] if saved else "engage", "erase"]
    try:
        yield
    finally:
        sys.argv = saved


# -- landing zone -------------------------------------------------------------------------------------
def _rewrite_batch(
    directory: Path, manifest: Any, needles: list[str], pattern: re.Pattern[str], tag: str
) -> tuple[int, int] | None:
    """Rewrite one batch without the person; (removed, changed) or None when it never held them."""
    raw_needles = [n.encode() for n in needles]

    def holds(line: bytes) -> bool:
        return any(n in line for n in raw_needles) or bool(pattern.search(line.decode("utf-8", "replace")))

    hit = False
    for part in manifest.parts:
        with gzip.open(directory / part.name, "rb") as handle:
            if any(holds(line) for line in handle):
                hit = True
                break
    if not hit:
        return None
    removed = changed = 0
    content = hashlib.sha256()
    new_parts: list[PartInfo] = []
    for index, part in enumerate(manifest.parts):
        name = f"part-{index:05d}-e{tag}.ndjson.gz"
        digest, rows = hashlib.sha256(), 0
        with (
            gzip.open(directory / part.name, "rb") as source,
            open(directory / name, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as target,
        ):
            for line in source:
                if holds(line):
                    try:
                        record = json.loads(line)
                    except ValueError:
                        record = None
                    cleaned, _ = (
                        clean_record(record, needles, pattern) if record is not None else (None, True)
                    )
                    if cleaned is None:
                        removed += 1
                        continue
                    line = encode_record(cleaned)
                    changed += 1
                target.write(line)
                digest.update(line)
                content.update(line)
                rows += 1
            target.close()
            raw.flush()
            os.fsync(raw.fileno())
        new_parts.append(PartInfo(name=name, rows=rows, sha256=digest.hexdigest()))
    rewritten = manifest.model_copy(
        update={
            "parts": new_parts,
            "row_count": sum(p.rows for p in new_parts),
            "content_sha256": content.hexdigest(),
        }
    )
    temporary = directory / f".{MANIFEST_NAME}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(rewritten.model_dump_json(indent=2))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / MANIFEST_NAME)  # the switch: from here the new parts count
    for part in manifest.parts:
        (directory / part.name).unlink(missing_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return removed, changed


# -- warehouse ----------------------------------------------------------------------------------------
def _like_any(column: str, needles: list[str]) -> tuple[str, list[str]]:
    return " or ".join(f"{column} like ?" for _ in needles), [f"%{n}%" for n in needles]


def _erase_warehouse(
    con: duckdb.DuckDBPyConnection, needles: list[str], pattern: re.Pattern[str], summary: ErasureSummary
) -> None:
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() "
            "where schema_name = 'raw' and database_name = current_database()"
        ).fetchall()
    ]
    per_batch: dict[str, list[int]] = {}  # batch id -> [loaded rows removed, quarantined removed]
    con.execute("begin transaction")
    try:
        for table in tables:
            name = f"raw.{quote_identifier(table)}"
            where, params = _like_any("record::varchar", needles)
            where += " or regexp_matches(record::varchar, ?)"
            rows = con.execute(
                f"select batch_id, line_number, record::varchar from {name} where {where}",
                [*params, pattern.pattern],
            ).fetchall()
            removed = changed = 0
            for batch_id, line_number, text in rows:
                cleaned, _ = clean_record(json.loads(text), needles, pattern)
                if cleaned is None:
                    con.execute(
                        f"delete from {name} where batch_id = ? and line_number = ?", [batch_id, line_number]
                    )
                    per_batch.setdefault(batch_id, [0, 0])[0] += 1
                    removed += 1
                else:
                    con.execute(
                        f"update {name} set record = ?::json where batch_id = ? and line_number = ?",
                        [json.dumps(cleaned, ensure_ascii=False), batch_id, line_number],
                    )
                    changed += 1
            if removed or changed:
                summary.per_place[f"raw.{table}"] = removed + changed
            summary.raw_rows_removed += removed
            summary.raw_rows_changed += changed
        where, params = _like_any("raw_line", needles)
        where, params = f"{where} or regexp_matches(raw_line, ?)", [*params, pattern.pattern]
        hits = con.execute(f"select batch_id from quarantine.records where {where}", params).fetchall()
        for (batch_id,) in hits:
            per_batch.setdefault(batch_id, [0, 0])[1] += 1
        quarantined = con.execute(f"delete from quarantine.records where {where}", params).fetchone()[0]
        summary.quarantine_rows_removed = quarantined
        if quarantined:
            summary.per_place["quarantine.records"] = quarantined
        for batch_id, (loaded, bad) in per_batch.items():
            con.execute(
                "update audit.batches set loaded_rows = loaded_rows - ?, "
                "quarantined_rows = quarantined_rows - ?, manifest_rows = manifest_rows - ? "
                "where batch_id = ?",
                [loaded, bad, loaded + bad, batch_id],
            )
        con.execute(
            "insert into audit.erasures values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                summary.erasure_id,
                summary.erased_at,
                summary.landing_batches_rewritten,
                summary.landing_records_removed + summary.landing_records_changed,
                summary.raw_rows_removed,
                summary.raw_rows_changed,
                summary.quarantine_rows_removed,
                json.dumps(summary.per_place, sort_keys=True),
                None,
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _prune_old_parquet(config: PipelineConfig) -> None:
    """Earlier Parquet versions still hold the person: keep only the one just published."""
    published = config.published_dir
    current = (published / "parquet").resolve().name
    for old in published.glob("parquet-*"):
        if old.is_dir() and old.name != current:
            shutil.rmtree(old, ignore_errors=True)


def _compact_warehouse(warehouse: Path) -> None:
    """Copy the warehouse into a new file and swap it in (under the writer slot).

    The rebuild replaced every table dbt built, but the replaced tables' blocks stay in the file,
    bytes and all, until DuckDB reuses them: a copy holds only what is live. A crash before the
    swap leaves the old warehouse (already erased logically) and a temporary file the next
    erasure removes."""
    copy = warehouse.with_name(f".{warehouse.name}.compact.tmp")
    copy.unlink(missing_ok=True)
    release_in_process_dbt()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("checkpoint")  # nothing left in a write-ahead log that would outlive the swap
    with duckdb.connect(":memory:") as con:
        con.execute("attach ? as live (read_only)", [str(warehouse)])
        con.execute("attach ? as compacted", [str(copy)])
        con.execute("copy from database live to compacted")
        con.execute("detach compacted")
    with open(copy, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(copy, warehouse)


def erase_person(
    config: PipelineConfig,
    email: str,
    name: str | None = None,
    *,
    suppress: bool = True,
    republish: bool = True,
) -> ErasureSummary:
    """Remove everything the pipeline holds about one person; the summary holds counts only."""
    from engage.warehouse.dbt import build
    from engage.warehouse.publish import publish

    needles = pseudonyms_for(config, email, name)
    pattern = re.compile(identifier_pattern(email, name))
    summary = ErasureSummary(erasure_id=secrets_module.token_hex(8), erased_at=datetime.now(UTC).isoformat())
    with writer_slot(config.warehouse_path):
        if suppress:  # first: an extraction running meanwhile already drops the person
            add_suppressed(config, needles)
        for directory, manifest in committed_manifests(config.landing_dir):
            outcome = _rewrite_batch(directory, manifest, needles, pattern, summary.erasure_id)
            if outcome is None:
                continue
            removed, changed = outcome
            summary.landing_batches_rewritten += 1
            summary.landing_records_removed += removed
            summary.landing_records_changed += changed
            place = f"landing:{manifest.source_instance}/{manifest.stream}"
            summary.per_place[place] = summary.per_place.get(place, 0) + removed + changed
        release_in_process_dbt()
        with duckdb.connect(str(config.warehouse_path)) as con:
            ensure_schemas(con)
            _erase_warehouse(con, needles, pattern, summary)
            con.execute("checkpoint")
        republish = republish and summary.total_removed > 0  # nothing changed: nothing to rebuild
        if republish:
            with _command_line_without_identifiers():
                # from raw: the incremental base models would keep what was just deleted
                build(config, full_refresh=True, hold_writer_slot=False)
            _compact_warehouse(config.warehouse_path)
    if republish:
        result = publish(config, allow_shrink=True)  # the erasure is the recorded reason
        _prune_old_parquet(config)
        summary.published_version = result.parquet_dir.resolve().name.removeprefix("parquet-")
        with writer_slot(config.warehouse_path), duckdb.connect(str(config.warehouse_path)) as con:
            con.execute(
                "update audit.erasures set published_version = ? where erasure_id = ?",
                [summary.published_version, summary.erasure_id],
            )
    return summary
