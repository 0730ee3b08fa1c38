"""Committed landing batches written by hand, byte for byte: bad lines reach the loader as they are."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from engage.landing.batches import MANIFEST_NAME, BatchWriter, Manifest, PartInfo


def land_lines(
    landing: Path,
    lines: list[bytes],
    *,
    source_instance: str,
    system: str,
    stream: str,
    primary_key: list[str],
    cursor_field: str | None,
    cursor_type: str = "timestamp",
) -> Path:
    """One committed batch holding exactly `lines`; returns its folder."""
    common = dict(
        source_instance=source_instance,
        system=system,
        stream=stream,
        mode="incremental" if cursor_field else "snapshot",
        primary_key=primary_key,
        cursor_field=cursor_field,
        cursor_type=cursor_type,
    )
    writer = BatchWriter(landing, extractor_version="handmade", **common)
    part = writer.directory / "part-00000.ndjson.gz"
    with gzip.open(part, "wb") as handle:
        handle.writelines(lines)
    manifest = Manifest(
        batch_id=writer.batch_id,
        **common,
        cursor_start=None,
        cursor_end=None,
        row_count=len(lines),
        content_sha256="not-checked-by-the-loader",
        parts=[PartInfo(name=part.name, rows=len(lines), sha256=hashlib.sha256(b"".join(lines)).hexdigest())],
        extractor_version="handmade",
        extracted_at="2024-01-01T00:00:00+00:00",
    )
    (writer.directory / MANIFEST_NAME).write_text(manifest.model_dump_json())
    return writer.directory
