"""The suppression list: erased people, and the scrub that removes them from records.

Extraction and webhook pushes drop records carrying a suppressed pseudonym, so a partner system that
has not erased its own copy does not bring the person back; erasure uses the same scrub on landed
batches and raw rows.

The list holds SHA-256 digests of the pseudonyms, not the pseudonyms: after an erasure nothing under
the data folder holds the person's pseudonym either (a pseudonym links whatever copy of the old
data still exists to the person; its digest links nothing). A record is checked by hashing the
values of its `*_pseudonym` fields.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from engage.config import PipelineConfig

# Digests of erased people's pseudonyms (one a line, nothing else).
SUPPRESSION_FILE = "_suppressed_pseudonyms.txt"
_PSEUDONYM = re.compile(r"^[0-9a-f]{32}$")  # a line in the older format: the pseudonym itself


def suppression_token(pseudonym: str) -> str:
    return hashlib.sha256(pseudonym.encode("ascii")).hexdigest()


def _contains(value: Any, needles: Iterable[str]) -> bool:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return any(n in text for n in needles)


def _pseudonym_values(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_pseudonym") and isinstance(item, str):
                yield item
            else:
                yield from _pseudonym_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _pseudonym_values(item)


def _scrub(record: Any, carries: Callable[[Any], bool]) -> tuple[Any | None, bool]:
    if not carries(record):
        return record, False
    if not isinstance(record, dict):
        return None, True
    cleaned: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, list) and any(isinstance(item, dict) for item in value):
            cleaned[key] = [item for item in value if not (isinstance(item, dict) and carries(item))]
        else:
            cleaned[key] = value
    if carries(cleaned):
        return None, True
    return cleaned, True


def scrub_record(record: Any, needles: list[str]) -> tuple[Any | None, bool]:
    """(record without the person, changed?). None: drop the whole record.

    List items (dicts) that carry the pseudonym are removed; if the pseudonym is still anywhere in
    what remains, the record is the person's own and goes whole.
    """
    return _scrub(record, lambda value: _contains(value, needles))


def filter_suppressed(records: list[dict[str, Any]], suppressed: frozenset[str]) -> list[dict[str, Any]]:
    """Extraction side: the records without any person on the suppression list (of digests)."""
    if not suppressed:
        return records

    def carries(value: Any) -> bool:
        return any(suppression_token(p) in suppressed for p in _pseudonym_values(value))

    kept = []
    for record in records:
        cleaned, _ = _scrub(record, carries)
        if cleaned is not None:
            kept.append(cleaned)
    return kept


def suppression_path(config: PipelineConfig) -> Path:
    return config.landing_dir / SUPPRESSION_FILE


def load_suppressed(config: PipelineConfig) -> frozenset[str]:
    """The digests on the list (a pseudonym written by an older version counts by its digest)."""
    try:
        text = suppression_path(config).read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    lines = (line.strip() for line in text.splitlines())
    return frozenset(suppression_token(v) if _PSEUDONYM.match(v) else v for v in lines if v)


def add_suppressed(config: PipelineConfig, pseudonyms: list[str]) -> None:
    path = suppression_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = sorted(load_suppressed(config) | {suppression_token(p) for p in pseudonyms})
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{p}\n" for p in merged))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
