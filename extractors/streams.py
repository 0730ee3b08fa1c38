"""What a partner-system module declares: its streams, their keys, cursors and the fields they keep."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

Page = list[dict[str, Any]]
CursorType = Literal["timestamp", "integer"]

# A record a fetch re-reads below its partition's committed cursor (a response completed since it
# was landed) carries this flag: the range filter keeps it and removes the flag before landing.
REREAD_FIELD = "_reread"

# A record carrying this field is landed as it is and quarantined by the loader with its value as
# the reason: extractors that validate (e.g. a registry file's declared schema) never drop a row.
INVALID_REASON_FIELD = "_quarantine_reason"


FieldAction = Literal["keep", "pseudonymise", "scrub", "drop"]


@dataclass(frozen=True)
class FieldRule:
    """What happens to one field. `path` is dotted; `[]` steps into every list item; a step may be
    a glob (`*`, `[!_]*`) for keys the source makes up (survey questions). Actions: "keep" as it is,
    "pseudonymise" (replaced by `<field>_pseudonym`, a keyed hash), "scrub" (free text: emails and
    phone numbers replaced), "drop" (known and unwanted). A field no rule names is dropped too, and
    counted as new (docs/privacy.md). A rule on an object or a list keeps the whole value."""

    path: str
    action: FieldAction


def fields(action: FieldAction, *paths: str) -> tuple[FieldRule, ...]:
    """Several rules with one action, for the STREAMS declarations."""
    return tuple(FieldRule(path, action) for path in paths)


@lru_cache(maxsize=8192)  # a run parses each record's cursor several times (filters, marks, keyset)
def parse_cursor(value: str) -> datetime:
    """ISO timestamps with any offset (or `Z`) compared as instants, not as text."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def cursor_order(value: str, cursor_type: str) -> datetime | int:
    """A cursor value in the form it is compared in; ValueError when it is not of its type."""
    return parse_cursor(value) if cursor_type == "timestamp" else int(value)


@dataclass(frozen=True)
class Window:
    """An explicit cursor range [start, end) for a backfill; both None for a normal run."""

    start: str | None = None
    end: str | None = None


@dataclass(frozen=True)
class CursorMark:
    end: str
    keys: frozenset[str] = frozenset()


@dataclass
class Tally:
    """What the source said it holds for the lists a run read (`count`), and what the run received.

    None when no list gave a count. The HTTP layer fails a walk that receives fewer records than
    its list counts; the figures reach the run summary and `audit.reconciliation`.
    """

    source_count: int | None = None
    received: int = 0

    def add(self, source_count: int, received: int) -> None:
        self.source_count = (self.source_count or 0) + source_count
        self.received += received


@dataclass
class FetchContext:
    """What a stream's fetch function may know about earlier runs, and report back."""

    window: Window = field(default_factory=Window)
    marks: dict[str, CursorMark] = field(default_factory=dict)  # partition -> committed cursor
    seen_files: frozenset[str] = frozenset()  # sha256 of source files already landed
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file, reason), filled by fetch
    tally: Tally = field(default_factory=Tally)  # the source's counts vs records received, by fetch
    # (part of the source, reason): a survey or form that gave nothing this run, filled by fetch
    skipped: list[tuple[str, str]] = field(default_factory=list)
    last_extracted_at: str | None = None  # UTC ISO time of the newest committed batch

    def start(self, partition: str = "") -> str | None:
        """Where to read from: the backfill window's start, else the partition's committed cursor."""
        if self.window.start is not None:
            return self.window.start
        mark = self.marks.get(partition)
        return mark.end if mark else None


@dataclass(frozen=True)
class Stream:
    name: str
    primary_key: tuple[str, ...]
    # None makes a snapshot stream: every run reads it whole and lands it only when it changed.
    cursor_field: str | None
    fetch: Callable[[Any, Any, FetchContext], Iterator[Page]]
    # The allow-list: the fields landed and how; everything else is dropped before landing.
    privacy_rules: tuple[FieldRule, ...] = ()
    cursor_type: CursorType = "timestamp"
    # Cursors kept per value of this field (a form, a survey): ids and clocks differ between them.
    partition_field: str | None = None
    # File-based streams: each record names its source file's sha256 here; a file lands once.
    source_file_field: str | None = None
    # Rules that depend on the source instance's configuration (its identifying survey questions);
    # they come before `privacy_rules`, so a configured question wins over a pattern.
    source_rules: Callable[[Any], tuple[FieldRule, ...]] | None = None

    def rules_for(self, source: Any) -> tuple[FieldRule, ...]:
        """The whole allow-list of this stream for one configured source."""
        configured = self.source_rules(source) if self.source_rules else ()
        return (*configured, *self.privacy_rules)

    @property
    def mode(self) -> str:
        return "incremental" if self.cursor_field or self.source_file_field else "snapshot"

    def partition_of(self, record: dict[str, Any]) -> str:
        if self.partition_field is None:
            return ""
        value = record.get(self.partition_field)
        return "" if value is None else str(value)


def record_key(record: dict[str, Any], primary_key: tuple[str, ...]) -> str | None:
    """The key as the loader computes it (parts joined by ':'); None when a part is missing."""
    parts = []
    for name in primary_key:
        value = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        parts.append(str(value))
    return ":".join(parts)
