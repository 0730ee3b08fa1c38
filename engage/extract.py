"""Extract one stream of one source instance into a landing batch. Never opens the warehouse."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from engage.config import PipelineConfig
from engage.landing.batches import BatchWriter, MarkInfo, SourceFileInfo, stream_state
from engage.privacy.allow_list import Minimiser
from engage.privacy.new_fields import describe, remember_new_fields
from engage.privacy.pseudonymise import Pseudonymiser
from extractors import __version__
from extractors.streams import (
    REREAD_FIELD,
    CursorMark,
    FetchContext,
    Stream,
    Window,
    cursor_order,
    record_key,
)
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
    rejected_files: list[tuple[str, str]] = field(default_factory=list)
    # Reconciliation: the source's own count for what this run read (None: it gives none), and
    # what the run received; a shortfall never gets here, the extraction fails instead.
    source_count: int | None = None
    source_received: int = 0
    new_fields: list[str] = field(default_factory=list)  # undeclared paths seen for the first time


class _CursorTracker:
    """Per partition: the highest cursor seen and the keys carrying it (the filters are `>=`)."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.marks: dict[str, tuple[Any, str, set[str]]] = {}  # partition -> (order, raw, keys)

    def order_of(self, record: dict[str, Any]) -> Any | None:
        value = record.get(self.stream.cursor_field)
        if value is None or isinstance(value, bool):
            return None
        try:
            return cursor_order(str(value), self.stream.cursor_type)
        except ValueError:
            return None  # the loader quarantines it with its reason

    def observe(self, record: dict[str, Any], order: Any) -> None:
        partition = self.stream.partition_of(record)
        key = record_key(record, self.stream.primary_key)
        current = self.marks.get(partition)
        if current is None or order > current[0]:
            current = (order, str(record[self.stream.cursor_field]), set())
            self.marks[partition] = current
        if order == current[0] and key is not None:
            current[2].add(key)

    def mark_infos(self) -> dict[str, MarkInfo]:
        return {p: MarkInfo(end=raw, keys=sorted(keys)) for p, (_, raw, keys) in self.marks.items()}

    def overall_end(self) -> str | None:
        if not self.marks:
            return None
        return max(self.marks.values(), key=lambda mark: mark[0])[1]


class _RangeFilter:
    """Keeps what the source returned inside the range this run covers, and tracks its cursors."""

    def __init__(self, stream: Stream, context: FetchContext, backfill: bool) -> None:
        self.stream, self.context, self.backfill = stream, context, backfill
        self.tracker = _CursorTracker(stream) if stream.cursor_field else None
        self._window_end = self._order(context.window.end) if self.tracker and context.window.end else None

    def _order(self, value: str) -> Any:
        return cursor_order(value, self.stream.cursor_type)

    def keep(self, record: dict[str, Any]) -> bool:
        if record.pop(REREAD_FIELD, False):
            return True  # the fetch re-read it on purpose (it changed below the cursor)
        if self.tracker is None or (at := self.tracker.order_of(record)) is None:
            return True
        if self._window_end is not None and at >= self._window_end:
            return False
        partition = self.stream.partition_of(record)
        start = self.context.start(partition)
        if start is not None and at < self._order(start):
            return False
        mark = self.context.marks.get(partition)
        if self.backfill or mark is None or at != self._order(mark.end):
            return True
        # Same value as the committed cursor (the source's filter is inclusive): new only if unseen.
        return record_key(record, self.stream.primary_key) not in mark.keys


def _with_skipped(note: str, context: FetchContext) -> str:
    """The run's note plus each part of the source that gave nothing, and why (for the summary)."""
    for part, reason in context.skipped:
        log.warning("%s gave nothing: %s", part, reason)
    parts = [f"{part}: {reason}" for part, reason in context.skipped]
    return "; ".join(p for p in (note, *parts) if p)


def stream_writer(
    config: PipelineConfig, source_name: str, system: ModuleType, stream_name: str, *, via: str = ""
) -> BatchWriter:
    """A landing batch for one stream, described by the stream's own declaration."""
    stream: Stream = system.STREAMS[stream_name]
    return BatchWriter(
        config.landing_dir,
        source_instance=source_name,
        system=system.SYSTEM,
        stream=stream_name,
        mode=stream.mode,
        primary_key=list(stream.primary_key),
        cursor_field=stream.cursor_field,
        cursor_type=stream.cursor_type,
        partition_field=stream.partition_field,
        extractor_version=f"{__version__}/{system.VERSION}" + (f"/{via}" if via else ""),
    )


def extract_stream(
    config: PipelineConfig,
    source_name: str,
    stream_name: str,
    *,
    window: Window | None = None,
    on_page: Callable[[int], None] | None = None,
) -> ExtractResult:
    """Land what changed in one stream since the committed cursors (or exactly `window`, if given)."""
    source = config.source(source_name)
    system = system_for(source.kind)
    stream: Stream = system.STREAMS[stream_name]
    state = stream_state(config.landing_dir, source_name, stream_name)
    pseudonymiser = Pseudonymiser.from_environment(
        config.privacy.key_env, allow_demo_key=config.privacy.allow_demo_key
    )
    minimiser = Minimiser(stream.rules_for(source), pseudonymiser)
    from engage.privacy.suppression import (  # erased people (docs/privacy.md)
        filter_suppressed,
        load_suppressed,
    )

    suppressed = load_suppressed(config)
    if window is not None and (stream.cursor_field is None or stream.cursor_type != "timestamp"):
        log.info(
            "%s/%s has no time cursor: a window does not apply, reading from the cursor",
            source_name,
            stream_name,
        )
        window = None
    backfill = window is not None
    context = FetchContext(
        window=window or Window(),
        marks={p: CursorMark(m.end, frozenset(m.keys)) for p, m in state.marks.items()},
        seen_files=state.seen_files,
        last_extracted_at=state.last_extracted_at,
    )
    in_range = _RangeFilter(stream, context, backfill)
    tracker = in_range.tracker
    source_files: dict[str, SourceFileInfo] = {}

    writer = stream_writer(config, source_name, system, stream_name)
    client = system.make_client(source_name, source)
    if hasattr(client, "stream"):
        client.stream = stream_name  # errors name the stream
    try:
        for page in stream.fetch(client, source, context):
            kept = [record for record in page if in_range.keep(record)]
            minimised = []
            for record in kept:
                if tracker is not None and (at := tracker.order_of(record)) is not None:
                    tracker.observe(record, at)
                if stream.source_file_field:
                    digest = str(record.get(stream.source_file_field))
                    source_files.setdefault(
                        digest, SourceFileInfo(name=str(record.get("_file")), sha256=digest)
                    )
                minimised.append(minimiser.apply(record))  # the allow-list: only declared fields land
            kept = filter_suppressed(minimised, suppressed)
            writer.write(kept)
            if on_page:
                on_page(len(kept))
        requests_made = getattr(client, "requests_made", 0)
        new_fields = remember_new_fields(config.landing_dir, source_name, stream_name, minimiser.unknown)
        if minimiser.unknown:
            log.info(
                "%s/%s: %d undeclared value(s) dropped; new field(s): %s",
                source_name,
                stream_name,
                sum(minimiser.unknown.values()),
                ", ".join(new_fields) or "none",
            )
        dropped_note = describe(new_fields)
        unchanged = writer.row_count == 0 or (
            stream.mode == "snapshot" and writer.content_sha256 == state.last_snapshot_sha256
        )
        if unchanged:
            writer.abort()
            note = "unchanged snapshot" if writer.row_count else "nothing new"
            if context.rejected:
                note = f"{len(context.rejected)} file(s) rejected"
            note = _with_skipped(note, context)
            return ExtractResult(
                source_name,
                stream_name,
                None,
                0,
                requests_made,
                context.window.start,
                None,
                "; ".join(n for n in (note, dropped_note) if n),
                list(context.rejected),
                context.tally.source_count,
                context.tally.received,
                new_fields,
            )
        manifest = writer.commit(
            cursor_start=context.window.start or min((m.end for m in state.marks.values()), default=None),
            cursor_end=tracker.overall_end() if tracker else None,
            # A backfill covers a closed range, not "everything up to here": it moves no cursor.
            cursor_marks=tracker.mark_infos() if tracker and not backfill else {},
            source_files=list(source_files.values()),
            data_interval=(window.start, window.end) if window else (None, None),
            source_count=context.tally.source_count,
            source_received=context.tally.received if context.tally.source_count is not None else None,
        )
    except BaseException:
        writer.abort()
        raise
    finally:
        if client is not None and hasattr(client, "close"):
            client.close()
    log.info(
        "landed %s/%s batch %s: %d records", source_name, stream_name, manifest.batch_id, manifest.row_count
    )
    note = _with_skipped(f"{len(context.rejected)} file(s) rejected" if context.rejected else "", context)
    note = "; ".join(n for n in (note, dropped_note) if n)
    return ExtractResult(
        source_name,
        stream_name,
        manifest.batch_id,
        manifest.row_count,
        requests_made,
        manifest.cursor_start,
        manifest.cursor_end,
        note,
        list(context.rejected),
        context.tally.source_count,
        context.tally.received,
        new_fields,
    )
