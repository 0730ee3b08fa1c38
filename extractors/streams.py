"""What a partner-system module declares: its streams, their keys, cursors and personal fields."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from extractors.http import ApiClient
from extractors.privacy import FieldRule

Page = list[dict[str, Any]]


@dataclass(frozen=True)
class Window:
    """The cursor range one extraction covers: [start, end). `end` None means up to now."""

    start: str | None = None
    end: str | None = None


@dataclass(frozen=True)
class Stream:
    name: str
    primary_key: tuple[str, ...]
    # None makes a snapshot stream: every run reads it whole and lands it only when it changed.
    cursor_field: str | None
    fetch: Callable[[ApiClient, Any, Window], Iterator[Page]]
    privacy_rules: tuple[FieldRule, ...] = field(default=())

    @property
    def mode(self) -> str:
        return "incremental" if self.cursor_field else "snapshot"


def record_key(record: dict[str, Any], primary_key: tuple[str, ...]) -> str | None:
    """The key as the loader computes it (parts joined by ':'); None when a part is missing."""
    parts = []
    for name in primary_key:
        value = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        parts.append(str(value))
    return ":".join(parts)
