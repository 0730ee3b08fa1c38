"""Landing retention: old, loaded batches go; nothing that holds data or state does.

The same functions run from the `engage_maintenance` DAG, from `engage maintain` and in the tests.

Retention never loses data or state:

- a committed batch goes only when it is older than `retention.landing_days` (its age is the
  manifest's `extracted_at`, written once at commit: unlike a file's mtime it survives copies,
  restores and `touch`) AND the warehouse has loaded it (its id is in `audit.batches`, so its
  records live on in the raw tables);
- the batches that hold a stream's incremental state are kept whatever their age: the newest
  snapshot batch (the checksum an unchanged snapshot is compared with), every batch carrying the
  current cursor mark of a partition (including all batches tied at that mark: their keys are the
  ones skipped at the inclusive boundary), and every batch recording registry source files (the
  file hashes that stop an inbox file from landing twice). Deleting any of these would make the
  next run re-extract or re-land;
- uncommitted batch folders (no `_MANIFEST.json`: a crashed extract) go once nothing in them has
  been written for a day (their age is the newest mtime inside: there is no manifest to read).

A folder is first renamed out of the `batch=*` namespace (atomic), then removed, so no reader ever
sees half a batch.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from engage.config import PipelineConfig
from engage.landing.batches import MANIFEST_NAME, Manifest, committed_manifests
from engage.warehouse.schema import release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot
from extractors.streams import cursor_order, parse_cursor

log = logging.getLogger(__name__)

ORPHAN_AGE = timedelta(days=1)
DELETING_PREFIX = ".deleting-"


@dataclass(frozen=True)
class RetentionResult:
    deleted: list[str] = field(default_factory=list)  # batch ids
    deleted_bytes: int = 0
    orphans: list[str] = field(default_factory=list)  # "<source>/<stream>/batch=<id>"
    orphan_bytes: int = 0
    kept_state: int = 0  # old and loaded, kept because they hold a stream's state
    kept_unloaded: int = 0  # old but not loaded yet
    dry_run: bool = False

    def summary(self) -> dict[str, int]:
        return {
            "deleted_batches": len(self.deleted),
            "deleted_bytes": self.deleted_bytes,
            "orphans_deleted": len(self.orphans),
            "orphan_bytes": self.orphan_bytes,
            "kept_state": self.kept_state,
            "kept_unloaded": self.kept_unloaded,
        }


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _newest_mtime(folder: Path) -> datetime:
    stamps = [folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))]
    return datetime.fromtimestamp(max(stamps), UTC)


def state_batches(manifests: list[Manifest]) -> set[str]:
    """Ids of the batches that carry the incremental state of their streams (see the module doc)."""
    keep: set[str] = set()
    by_stream: dict[tuple[str, str], list[Manifest]] = defaultdict(list)
    for manifest in manifests:
        by_stream[(manifest.source_instance, manifest.stream)].append(manifest)
    for stream_manifests in by_stream.values():
        stream_manifests.sort(key=lambda m: m.batch_id)  # the order stream_state() reads them in
        snapshots = [m for m in stream_manifests if m.mode == "snapshot"]
        if snapshots:
            keep.add(snapshots[-1].batch_id)
        best: dict[str, tuple[object, list[str]]] = {}
        for manifest in stream_manifests:
            if manifest.source_files:
                keep.add(manifest.batch_id)
            for partition, mark in manifest.cursor_marks.items():
                try:
                    order = cursor_order(mark.end, manifest.cursor_type)
                except ValueError:  # cannot compare it: keep it rather than guess
                    keep.add(manifest.batch_id)
                    continue
                known = best.get(partition)
                if known is None or order > known[0]:
                    best[partition] = (order, [manifest.batch_id])
                elif order == known[0]:
                    known[1].append(manifest.batch_id)
        for _, ids in best.values():
            keep.update(ids)
    return keep


def loaded_batch_ids(warehouse: Path) -> set[str]:
    """Batch ids in the warehouse's audit.batches (empty when there is no warehouse yet)."""
    if not warehouse.exists():
        return set()
    release_in_process_dbt()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        exists = con.execute(
            "select 1 from duckdb_tables() where schema_name = 'audit' and table_name = 'batches' "
            "and database_name = current_database()"
        ).fetchone()
        if not exists:
            return set()
        return {row[0] for row in con.execute("select batch_id from audit.batches").fetchall()}


def _remove(folder: Path) -> None:
    parked = folder.with_name(DELETING_PREFIX + folder.name)
    os.replace(folder, parked)  # out of the batch=* namespace at once
    shutil.rmtree(parked)


def apply_retention(
    config: PipelineConfig, *, now: datetime | None = None, dry_run: bool = False
) -> RetentionResult:
    """Delete old, loaded, stateless batches and stale orphan folders; report what went."""
    now = now or datetime.now(UTC)
    landing = config.landing_dir
    days = config.retention.landing_days
    if not landing.exists():
        return RetentionResult(dry_run=dry_run)
    with writer_slot(config.warehouse_path):  # reads audit.batches: no loader in between
        loaded = loaded_batch_ids(config.warehouse_path)
        committed = list(committed_manifests(landing))
        keep = state_batches([m for _, m in committed])
        deleted, deleted_bytes, kept_state, kept_unloaded = [], 0, 0, 0
        if days:
            cutoff = now - timedelta(days=days)
            for directory, manifest in committed:
                if parse_cursor(manifest.extracted_at) >= cutoff:
                    continue
                if manifest.batch_id not in loaded and config.retention.keep_loaded_only:
                    kept_unloaded += 1
                    continue
                if manifest.batch_id in keep:
                    kept_state += 1
                    continue
                size = _folder_bytes(directory)
                if not dry_run:
                    _remove(directory)
                deleted.append(manifest.batch_id)
                deleted_bytes += size
                log.info("retention: deleted %s (%d bytes)", directory, size)
        orphans, orphan_bytes = [], 0
        for directory in sorted(landing.glob("*/*/batch=*")):
            if not directory.is_dir() or (directory / MANIFEST_NAME).exists():
                continue
            if now - _newest_mtime(directory) < ORPHAN_AGE:
                continue  # perhaps an extract still writing it
            size = _folder_bytes(directory)
            if not dry_run:
                _remove(directory)
            orphans.append(str(directory.relative_to(landing)))
            orphan_bytes += size
            log.info("retention: removed uncommitted folder %s (%d bytes)", directory, size)
        if not dry_run:  # left over by a retention run that died mid-delete
            for parked in landing.glob(f"*/*/{DELETING_PREFIX}batch=*"):
                shutil.rmtree(parked, ignore_errors=True)
    return RetentionResult(deleted, deleted_bytes, orphans, orphan_bytes, kept_state, kept_unloaded, dry_run)
