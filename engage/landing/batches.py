"""The landing zone: immutable NDJSON.gz batches that exist only once their manifest is written.

Incremental state lives here too: the next cursor is read back from the committed manifests, so a
run that committed nothing leaves the state as it was and deleting a batch makes it re-extract.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from extractors.streams import cursor_order

MANIFEST_NAME = "_MANIFEST.json"
PART_ROWS = 100_000  # rows per part file: bounds memory of readers and size of rewrites
# zlib's default: measured on the demo's orders (issue 16), half the CPU of level 9 for files
# 2.8 % larger. The checksums are of the lines, not of the compressed bytes, so they do not move.
GZIP_LEVEL = 6


class PartInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    rows: int
    sha256: str


class MarkInfo(BaseModel):
    """The cursor a batch reached in one partition, and the keys carrying exactly that value."""

    model_config = ConfigDict(frozen=True)
    end: str
    keys: list[str] = []


class SourceFileInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    sha256: str


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)
    batch_id: str
    source_instance: str
    system: str
    stream: str
    mode: Literal["incremental", "snapshot"]
    primary_key: list[str]
    cursor_field: str | None
    cursor_type: Literal["timestamp", "integer"] = "timestamp"
    partition_field: str | None = None
    cursor_start: str | None
    cursor_end: str | None  # the highest cursor over all partitions (for people reading audits)
    cursor_marks: dict[str, MarkInfo] = {}  # partition ("" when unpartitioned) -> mark
    source_files: list[SourceFileInfo] = []
    row_count: int
    content_sha256: str
    parts: list[PartInfo]
    extractor_version: str
    extracted_at: str
    data_interval_start: str | None = None
    data_interval_end: str | None = None
    # Reconciliation: what the source's lists counted for this run, and what the run received
    # from them (before the cursor and suppression filters); None where the source gives no count.
    source_count: int | None = None
    source_received: int | None = None

    @property
    def directory_name(self) -> str:
        return f"batch={self.batch_id}"


def new_batch_id(now: datetime | None = None) -> str:
    """Sortable by extraction time, unique across parallel workers."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}"


def stream_dir(landing: Path, source_instance: str, stream: str) -> Path:
    return landing / source_instance / stream


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# What json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")) builds on
# every call, built once.
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def encode_record(record: dict[str, Any]) -> bytes:
    """One NDJSON line; keys sorted so an unchanged snapshot has an unchanged checksum."""
    return _ENCODER.encode(record).encode() + b"\n"


class BatchWriter:
    """Streams records into part files; `commit` publishes the batch by writing its manifest last."""

    def __init__(
        self,
        landing: Path,
        *,
        source_instance: str,
        system: str,
        stream: str,
        mode: Literal["incremental", "snapshot"],
        primary_key: list[str],
        cursor_field: str | None,
        extractor_version: str,
        cursor_type: Literal["timestamp", "integer"] = "timestamp",
        partition_field: str | None = None,
        batch_id: str | None = None,
    ) -> None:
        self.batch_id = batch_id or new_batch_id()
        self.directory = stream_dir(landing, source_instance, stream) / f"batch={self.batch_id}"
        self.directory.mkdir(parents=True, exist_ok=False)
        self._meta = dict(
            batch_id=self.batch_id,
            source_instance=source_instance,
            system=system,
            stream=stream,
            mode=mode,
            primary_key=primary_key,
            cursor_field=cursor_field,
            cursor_type=cursor_type,
            partition_field=partition_field,
            extractor_version=extractor_version,
        )
        self._parts: list[PartInfo] = []
        self._content = hashlib.sha256()
        self._part_file: Any = None
        self._part_hash: Any = None
        self._part_rows = 0
        self.row_count = 0

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        """Encode the records and append them; a page goes to gzip and the checksums in one piece."""
        lines: list[bytes] = []
        for record in records:
            if self._part_file is None or self._part_rows + len(lines) >= PART_ROWS:
                self._append(lines)
                lines = []
                self._close_part()
                self._open_part()
            lines.append(encode_record(record))
        self._append(lines)

    def _append(self, lines: list[bytes]) -> None:
        if not lines:
            return
        chunk = b"".join(lines)
        self._part_file.write(chunk)
        self._part_hash.update(chunk)  # sha256 of the lines in one piece = of the lines one by one
        self._content.update(chunk)
        self._part_rows += len(lines)
        self.row_count += len(lines)

    def _open_part(self) -> None:
        name = f"part-{len(self._parts):05d}.ndjson.gz"
        raw = open(self.directory / name, "wb")  # noqa: SIM115 - closed in _close_part
        self._part_file = gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
        )
        self._part_raw = raw
        self._part_name = name
        self._part_hash = hashlib.sha256()
        self._part_rows = 0

    def _close_part(self) -> None:
        if self._part_file is None:
            return
        self._part_file.close()
        self._part_raw.flush()
        os.fsync(self._part_raw.fileno())
        self._part_raw.close()
        self._parts.append(
            PartInfo(name=self._part_name, rows=self._part_rows, sha256=self._part_hash.hexdigest())
        )
        self._part_file = None

    @property
    def content_sha256(self) -> str:
        return self._content.hexdigest()

    def commit(
        self,
        *,
        cursor_start: str | None = None,
        cursor_end: str | None = None,
        cursor_marks: dict[str, MarkInfo] | None = None,
        source_files: list[SourceFileInfo] | None = None,
        data_interval: tuple[str | None, str | None] = (None, None),
        source_count: int | None = None,
        source_received: int | None = None,
    ) -> Manifest:
        """Close the parts, then write the manifest atomically: temp name, fsync, rename."""
        self._close_part()
        manifest = Manifest(
            **self._meta,
            cursor_start=cursor_start,
            cursor_end=cursor_end,
            cursor_marks=cursor_marks or {},
            source_files=source_files or [],
            row_count=self.row_count,
            content_sha256=self.content_sha256,
            parts=self._parts,
            extracted_at=datetime.now(UTC).isoformat(),
            data_interval_start=data_interval[0],
            data_interval_end=data_interval[1],
            source_count=source_count,
            source_received=source_received,
        )
        temporary = self.directory / f".{MANIFEST_NAME}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(manifest.model_dump_json(indent=2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.directory / MANIFEST_NAME)
        _fsync_dir(self.directory)
        return manifest

    def abort(self) -> None:
        """Drop an uncommitted batch (nothing outside this folder ever saw it)."""
        if self._part_file is not None:
            self._part_file.close()
            self._part_raw.close()
            self._part_file = None
        shutil.rmtree(self.directory, ignore_errors=True)


def committed_manifests(
    landing: Path, source_instance: str | None = None, stream: str | None = None
) -> Iterator[tuple[Path, Manifest]]:
    """Every committed batch under the landing zone (optionally one source / stream), oldest first."""
    pattern = f"{source_instance or '*'}/{stream or '*'}/batch=*/{MANIFEST_NAME}"
    found = sorted(landing.glob(pattern), key=lambda p: p.parent.name)
    for path in found:
        yield path.parent, Manifest.model_validate_json(path.read_text(encoding="utf-8"))


class StreamState(BaseModel):
    """Where the next extraction of a stream starts, derived from its committed manifests."""

    marks: dict[str, MarkInfo] = {}
    seen_files: frozenset[str] = frozenset()
    last_snapshot_sha256: str | None = None
    last_extracted_at: str | None = None


def stream_state(landing: Path, source_instance: str, stream: str) -> StreamState:
    marks: dict[str, MarkInfo] = {}
    seen_files: set[str] = set()
    snapshot_sha: str | None = None
    extracted_at: str | None = None
    for _, manifest in committed_manifests(landing, source_instance, stream):
        extracted_at = max(extracted_at or "", manifest.extracted_at)
        if manifest.mode == "snapshot":
            snapshot_sha = manifest.content_sha256
        seen_files.update(f.sha256 for f in manifest.source_files)
        for partition, mark in manifest.cursor_marks.items():
            known = marks.get(partition)
            if known is None:
                marks[partition] = mark
                continue
            new, old = (
                cursor_order(mark.end, manifest.cursor_type),
                cursor_order(known.end, manifest.cursor_type),
            )
            if new > old:
                marks[partition] = mark
            elif new == old:
                marks[partition] = MarkInfo(end=known.end, keys=sorted({*known.keys, *mark.keys}))
    return StreamState(
        marks=marks,
        seen_files=frozenset(seen_files),
        last_snapshot_sha256=snapshot_sha,
        last_extracted_at=extracted_at,
    )
