"""Extract one stream of one source instance into a landing batch. Never opens the warehouse."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from extractors import __version__
from extractors.config import PipelineConfig
from extractors.landing import BatchWriter, parse_cursor, stream_state
from extractors.privacy import Pseudonymiser, apply_rules
from extractors.streams import Stream, Window, record_key
from extractors.systems import system_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractResult:
    source_instance: str
    stream: str
    batch_id: str | None  # None: nothing new to land
    records: int
    requests: int
    cursor_start: str | None
    cursor_end: str | None
    note: str = ""


class _CursorTracker:
    """Highest cursor seen, and the keys carrying it (to skip them next time: the filter is >=)."""

    def __init__(self, field: str, primary_key: tuple[str, ...]) -> None:
        self.field, self.primary_key = field, primary_key
        self.end: str | None = None
        self._end_at: datetime | None = None
        self.keys_at_end: set[str] = set()

    def cursor_of(self, record: dict[str, Any]) -> datetime | None:
        value = record.get(self.field)
        try:
            return parse_cursor(value) if isinstance(value, str) else None
        except ValueError:
            return None  # the loader quarantines it with its reason

    def observe(self, record: dict[str, Any], at: datetime | None) -> None:
        if at is None:
            return
        key = record_key(record, self.primary_key)
        if self._end_at is None or at > self._end_at:
            self.end, self._end_at, self.keys_at_end = record[self.field], at, set()
        if at == self._end_at and key is not None:
            self.keys_at_end.add(key)


def extract_stream(
    config: PipelineConfig,
    source_name: str,
    stream_name: str,
    *,
    window: Window | None = None,
    on_page: Callable[[int], None] | None = None,
) -> ExtractResult:
    """Land what changed in one stream since the committed cursor (or exactly `window`, if given)."""
    source = config.source(source_name)
    system = system_for(source.kind)
    stream: Stream = system.STREAMS[stream_name]
    state = stream_state(config.landing_dir, source_name, stream_name)
    pseudonymiser = Pseudonymiser.from_environment(
        config.privacy.key_env, allow_demo_key=config.privacy.allow_demo_key
    )
    backfill = window is not None
    window = window or Window(start=state.cursor)
    window_start = parse_cursor(window.start) if window.start else None
    window_end = parse_cursor(window.end) if window.end else None
    tracker = _CursorTracker(stream.cursor_field, stream.primary_key) if stream.cursor_field else None

    def keep(record: dict[str, Any]) -> bool:
        if tracker is None:
            return True
        at = tracker.cursor_of(record)
        if at is None:
            return True
        if window_end is not None and at >= window_end:
            return False
        if window_start is not None and at < window_start:
            return False
        # Same instant as the committed cursor and already landed then: unchanged, skip it.
        return not (
            not backfill
            and window_start is not None
            and at == window_start
            and record_key(record, stream.primary_key) in state.keys_at_cursor
        )

    writer = BatchWriter(
        config.landing_dir,
        source_instance=source_name,
        system=system.SYSTEM,
        stream=stream_name,
        mode=stream.mode,
        primary_key=list(stream.primary_key),
        cursor_field=stream.cursor_field,
        extractor_version=f"{__version__}/{system.VERSION}",
    )
    client = system.make_client(source_name, source) if hasattr(system, "make_client") else None
    try:
        for page in stream.fetch(client, source, window):
            kept = [record for record in page if keep(record)]
            for record in kept:
                if tracker is not None:
                    tracker.observe(record, tracker.cursor_of(record))
                apply_rules(record, stream.privacy_rules, pseudonymiser)
            writer.write(kept)
            if on_page:
                on_page(len(kept))
        requests_made = client.requests_made if client else 0
        unchanged = writer.row_count == 0 or (
            stream.mode == "snapshot" and writer.content_sha256 == state.last_snapshot_sha256
        )
        if unchanged:
            writer.abort()
            note = "unchanged snapshot" if writer.row_count else "nothing new"
            return ExtractResult(source_name, stream_name, None, 0, requests_made, window.start, None, note)
        manifest = writer.commit(
            cursor_start=window.start,
            cursor_end=tracker.end if tracker else None,
            keys_at_cursor_end=sorted(tracker.keys_at_end) if tracker else [],
            data_interval=(window.start, window.end) if backfill else (None, None),
        )
    except BaseException:
        writer.abort()
        raise
    finally:
        if client is not None:
            client.close()
    log.info(
        "landed %s/%s batch %s: %d records", source_name, stream_name, manifest.batch_id, manifest.row_count
    )
    return ExtractResult(
        source_name,
        stream_name,
        manifest.batch_id,
        manifest.row_count,
        requests_made,
        manifest.cursor_start,
        manifest.cursor_end,
    )
