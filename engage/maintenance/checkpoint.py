"""Warehouse checkpoint: fold the write-ahead log into the file and refresh statistics."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engage.config import PipelineConfig
from engage.warehouse.schema import release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointResult:
    size_before: int  # database file + write-ahead log, bytes
    size_after: int
    wal_before: int
    wal_after: int
    vacuumed: bool

    def summary(self) -> dict[str, int | bool]:
        return {
            "size_before": self.size_before,
            "size_after": self.size_after,
            "wal_before": self.wal_before,
            "wal_after": self.wal_after,
            "vacuumed": self.vacuumed,
        }


def _sizes(warehouse: Path) -> tuple[int, int]:
    wal = warehouse.with_name(warehouse.name + ".wal")
    main = warehouse.stat().st_size if warehouse.exists() else 0
    log_size = wal.stat().st_size if wal.exists() else 0
    return main + log_size, log_size


def checkpoint_warehouse(config: PipelineConfig, *, vacuum: bool = True) -> CheckpointResult:
    """Fold the WAL into the file and reuse freed blocks (CHECKPOINT), refresh statistics (VACUUM
    ANALYZE: DuckDB's VACUUM reclaims no space itself, the checkpoint does), under the writer slot."""
    warehouse = config.warehouse_path
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: nothing to checkpoint (run a load first)")
    with writer_slot(warehouse):
        release_in_process_dbt()
        size_before, wal_before = _sizes(warehouse)
        with duckdb.connect(str(warehouse)) as con:
            if vacuum:
                con.execute("vacuum analyze")
            con.execute("force checkpoint")
        size_after, wal_after = _sizes(warehouse)
    log.info("warehouse %s: %d -> %d bytes (WAL %d -> %d)", warehouse, size_before, size_after,
             wal_before, wal_after)  # fmt: skip
    return CheckpointResult(size_before, size_after, wal_before, wal_after, vacuum)
