"""What a push becomes: the pretix order it names, or the KoboToolbox submission it carries,
minimised with its stream's allow-list (the same as a pull's) and landed as a one-record batch."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import quote

from engage.config import PipelineConfig
from engage.extract import stream_writer
from engage.orchestration.asset_events import LandedBatch
from engage.privacy.allow_list import Minimiser
from engage.privacy.pseudonymise import Pseudonymiser
from engage.privacy.suppression import filter_suppressed, load_suppressed
from engage.webhooks.replay import ReplayGuard
from extractors import kobotoolbox, pretix
from extractors.http import SourceError

log = logging.getLogger(__name__)

PRETIX_FIELDS = ("notification_id", "organizer", "event", "code", "action")
KOBO_FIELDS = ("_id", "_uuid", "_xform_id_string", "_submission_time")
# Organiser and event slugs and order codes become path segments of the pretix API request: only
# plain ones pass (no "..", no slashes or escapes that would point the request elsewhere).
PATH_SEGMENT = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class Rejected(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def land_record(
    config: PipelineConfig,
    source_name: str,
    system: ModuleType,
    stream_name: str,
    record: dict[str, Any],
    via: str = "webhook",
) -> LandedBatch:
    """Minimise one record with its stream's allow-list and land it as a one-record batch."""
    stream = system.STREAMS[stream_name]
    pseudonymiser = Pseudonymiser.from_environment(
        config.privacy.key_env, allow_demo_key=config.privacy.allow_demo_key
    )
    record = Minimiser(stream.rules_for(config.source(source_name)), pseudonymiser).apply(record)
    # An erased person stays erased, whichever way their record arrives (docs/privacy.md).
    records = filter_suppressed([record], load_suppressed(config))
    if not records:
        return LandedBatch(source_name, stream_name, "", 0, via)
    writer = stream_writer(config, source_name, system, stream_name, via="webhook")
    try:
        writer.write(records)
        cursor = record.get(stream.cursor_field) if stream.cursor_field else None
        # No cursor marks: the next pull is not moved past records it has not read (module doc).
        manifest = writer.commit(cursor_end=str(cursor) if cursor is not None else None, cursor_marks={})
    except BaseException:
        writer.abort()
        raise
    return LandedBatch(source_name, stream_name, manifest.batch_id, manifest.row_count, via)


@dataclass(frozen=True)
class Accepted:
    batches: list[LandedBatch]
    replay_key: str


def _required(payload: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise Rejected(400, "expected a JSON object")
    missing = [f for f in fields if payload.get(f) in (None, "") or isinstance(payload.get(f), dict | list)]
    if missing:
        raise Rejected(400, f"missing or invalid fields: {', '.join(missing)}")
    return payload


def handle_pretix(config: PipelineConfig, source_name: str, payload: Any, guard: ReplayGuard) -> Accepted:
    source = config.source(source_name)
    note = _required(payload, PRETIX_FIELDS)
    if "orders" not in source.streams:
        raise Rejected(404, f"{source_name} does not extract orders")
    if str(note["organizer"]) != source.organizer:
        raise Rejected(400, f"organizer {note['organizer']!r} is not {source_name}'s")
    bad = [f for f in ("event", "code") if not PATH_SEGMENT.match(str(note[f]))]
    if bad:
        raise Rejected(400, f"invalid {' and '.join(bad)}: letters, digits, '.', '_' and '-' only")
    key = f"pretix:{note['notification_id']}"
    action = str(note["action"])
    with guard.locked():
        if guard.seen(key) or not guard.claim(key):
            raise Rejected(409, f"notification {note['notification_id']} was already received")
    try:  # the partner API is called without the source's lock: other pushes go on meanwhile
        org, event, code = (quote(str(note[f]), safe="") for f in ("organizer", "event", "code"))
        try:
            with pretix.make_client(source_name, source) as client:
                order = client.get_json(f"organizers/{org}/events/{event}/orders/{code}/")
        except SourceError as exc:
            raise Rejected(502, f"could not read the order from pretix: {exc}") from None
        if not isinstance(order, dict) or not order.get("code"):
            raise Rejected(502, "pretix answered the order request with something that is not an order")
        batches = [land_record(config, source_name, pretix, "orders", order, f"webhook:{action}")]
        with guard.locked():
            guard.record(key)
    finally:
        guard.release(key)
    # A check-in push needs nothing more: a scan touches its order, and the order re-read above
    # carries every position's check-ins of every list (docs/contracts.md, attendance).
    return Accepted(batches, key)


def handle_kobo(config: PipelineConfig, source_name: str, payload: Any, guard: ReplayGuard) -> Accepted:
    source = config.source(source_name)
    submission = _required(payload, KOBO_FIELDS)
    if "submissions" not in source.streams:
        raise Rejected(404, f"{source_name} does not extract submissions")
    if source.asset_uids and submission["_xform_id_string"] not in source.asset_uids:
        raise Rejected(400, f"form {submission['_xform_id_string']!r} is not one {source_name} reads")
    key = f"kobo:{submission['_uuid']}:{submission['_submission_time']}"
    with guard.locked():
        if guard.seen(key):
            raise Rejected(409, "this submission was already received")
        batch = land_record(config, source_name, kobotoolbox, "submissions", dict(submission), "webhook:kobo")
        guard.record(key)
    return Accepted([batch], key)


HANDLERS = {"pretix": handle_pretix, "kobotoolbox": handle_kobo}
