"""The writer slot outside Airflow: one process at a time loads, transforms or publishes."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriterBusyError(Exception):
    """Another process holds the warehouse's writer slot."""


@contextmanager
def writer_slot(warehouse: Path, *, wait_seconds: float = 600.0) -> Iterator[None]:
    """Hold an exclusive lock beside the warehouse file (released even if the process dies)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    lock_path = warehouse.with_name(warehouse.name + ".writer.lock")
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriterBusyError(f"another process holds the writer slot ({lock_path})") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
