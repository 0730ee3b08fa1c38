"""Fields a source sent that its stream does not declare: dropped at the edge, reported once.

The paths already reported are remembered per stream in the landing zone
(`<landing>/_fields/<source>.<stream>.json`, names only, never values), so the run summary lists a
new upstream field the first time it appears, and a data engineer can decide whether to declare it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

FIELDS_FOLDER = "_fields"  # inside the landing zone; never matches the batch glob */*/batch=*


def _path(landing: Path, source: str, stream: str) -> Path:
    return landing / FIELDS_FOLDER / f"{source}.{stream}.json"


def reported_fields(landing: Path, source: str, stream: str) -> set[str]:
    try:
        return set(json.loads(_path(landing, source, stream).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        return set()


def remember_new_fields(landing: Path, source: str, stream: str, seen: Iterable[str]) -> list[str]:
    """The paths among `seen` never reported before (sorted); they are remembered from now on."""
    known = reported_fields(landing, source, stream)
    new = sorted(set(seen) - known)
    if new:
        path = _path(landing, source, stream)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(sorted(known | set(new)), indent=1), encoding="utf-8")
        os.replace(temporary, path)
    return new


def describe(new: list[str], limit: int = 8) -> str:
    """For the run summary's note: the undeclared paths seen for the first time, by name."""
    if not new:
        return ""
    shown = ", ".join(new[:limit]) + (f" (+{len(new) - limit} more)" if len(new) > limit else "")
    return f"new undeclared field(s) dropped: {shown}"
