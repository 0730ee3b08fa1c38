"""Replay protection for pushes: ids already landed are remembered for a window and refused."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ReplayGuard:
    """Keys already landed, in an append-only file per source (`<epoch seconds>\\t<key>` lines).

    Check, land and record happen under an exclusive lock on the file, so two deliveries of the
    same notification (threads or processes) land once. Entries older than the window are dropped
    when the receiver starts (`compact`).
    """

    def __init__(self, path: Path, window_seconds: float) -> None:
        self.path = path
        self.window_seconds = window_seconds
        self._thread_lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.path.with_suffix(".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _entries(self) -> Iterator[tuple[float, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            stamp, _, key = line.partition("\t")
            try:
                yield float(stamp), key
            except ValueError:
                continue  # a torn last line after a crash

    def seen(self, key: str) -> bool:
        """Call with the lock held."""
        horizon = time.time() - self.window_seconds
        return any(k == key and at >= horizon for at, k in self._entries())

    def record(self, key: str) -> None:
        """Call with the lock held."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(f"{time.time():.3f}\t{key}\n")
            handle.flush()
            os.fsync(handle.fileno())

    def claim(self, key: str) -> bool:
        """Mark a key as being landed by this process; False when another thread already is.

        Lets a handler check the key under the lock, then call the partner API without holding it
        (three slow pushes of one source run side by side, not one after another)."""
        with self._in_flight_lock:
            if key in self._in_flight:
                return False
            self._in_flight.add(key)
            return True

    def release(self, key: str) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(key)

    def compact(self) -> None:
        if not self.path.exists():
            return  # nothing to forget (and no lock file to create)
        with self.locked():
            if not self.path.exists():
                return
            horizon = time.time() - self.window_seconds
            kept = [f"{at:.3f}\t{key}\n" for at, key in self._entries() if at >= horizon]
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text("".join(kept), encoding="utf-8")
            os.replace(temporary, self.path)
