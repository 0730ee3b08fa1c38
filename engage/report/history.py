"""Headline figures of each published version, kept beside the report, for "change since last time".

`report-history.json` holds, per published version (oldest first), the headline figures per
phase. Publish appends the version it has just swapped in (so the file never names a version
that was not published); the report compares its version with the newest entry older than it.
The file is small (a few hundred bytes a version) and keeps the last KEEP_VERSIONS versions.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HISTORY_FILE = "report-history.json"
KEEP_VERSIONS = 100
# The headline figures compared between versions (columns of mart_programme_kpis).
FIGURES = (
    "activities",
    "attendances",
    "participants",
    "female_attendances",
    "countries_engaged",
    "experts_in_pool",
    "experts_deployed",
    "stakeholders_in_network",
    "stakeholders_engaged",
)


@dataclass(frozen=True)
class Snapshot:
    version: str
    published_at: str | None
    phases: dict[str, dict[str, int]]  # phase -> figure -> value


def snapshot(version: str, published_at: str | None, headline: list[dict[str, Any]]) -> Snapshot:
    phases = {row["phase"]: {name: int(row[name] or 0) for name in FIGURES} for row in headline}
    return Snapshot(version, published_at, phases)


def read_history(published: Path) -> list[Snapshot]:
    path = published / HISTORY_FILE
    if not path.is_file():
        return []
    entries = json.loads(path.read_text(encoding="utf-8")).get("versions", [])
    return [Snapshot(e["version"], e.get("published_at"), e["phases"]) for e in entries]


def previous(history: list[Snapshot], version: str) -> Snapshot | None:
    """The newest version published before `version` (version ids sort by time)."""
    older = [entry for entry in history if entry.version < version]
    return max(older, key=lambda entry: entry.version) if older else None


def record(published: Path, entry: Snapshot) -> None:
    """Add (or replace) `entry` in the history file, atomically."""
    history = [e for e in read_history(published) if e.version != entry.version]
    history = sorted([*history, entry], key=lambda e: e.version)[-KEEP_VERSIONS:]
    body = {"versions": [vars(e) for e in history]}
    published.mkdir(parents=True, exist_ok=True)
    path = published / HISTORY_FILE
    temporary = published / f".{HISTORY_FILE}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)
