"""The suppression list: pseudonyms of erased people, and the scrub that removes them from records.

Extraction and webhook pushes drop records carrying a suppressed pseudonym, so a partner system that
has not erased its own copy does not bring the person back; erasure uses the same scrub on landed
batches and raw rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engage.config import PipelineConfig

# Pseudonyms of erased people (one a line, nothing else): extraction drops records carrying them,
# so a partner system that has not erased its own copy does not bring the person back.
SUPPRESSION_FILE = "_suppressed_pseudonyms.txt"


def _contains(value: Any, needles: Iterable[str]) -> bool:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return any(n in text for n in needles)


def scrub_record(record: Any, needles: list[str]) -> tuple[Any | None, bool]:
    """(record without the person, changed?). None: drop the whole record.

    List items (dicts) that carry the pseudonym are removed; if the pseudonym is still anywhere in
    what remains, the record is the person's own and goes whole.
    """
    if not _contains(record, needles):
        return record, False
    if not isinstance(record, dict):
        return None, True
    cleaned: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, list) and any(isinstance(item, dict) for item in value):
            cleaned[key] = [
                item for item in value if not (isinstance(item, dict) and _contains(item, needles))
            ]
        else:
            cleaned[key] = value
    if _contains(cleaned, needles):
        return None, True
    return cleaned, True


def filter_suppressed(records: list[dict[str, Any]], suppressed: frozenset[str]) -> list[dict[str, Any]]:
    """Extraction side: the records without any person on the suppression list."""
    if not suppressed:
        return records
    needles = sorted(suppressed)
    kept = []
    for record in records:
        cleaned, _ = scrub_record(record, needles)
        if cleaned is not None:
            kept.append(cleaned)
    return kept


def suppression_path(config: PipelineConfig) -> Path:
    return config.landing_dir / SUPPRESSION_FILE


def load_suppressed(config: PipelineConfig) -> frozenset[str]:
    try:
        text = suppression_path(config).read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def add_suppressed(config: PipelineConfig, pseudonyms: list[str]) -> None:
    path = suppression_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = sorted(load_suppressed(config) | set(pseudonyms))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{p}\n" for p in merged))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
