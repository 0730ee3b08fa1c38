"""The partner-push receiver: pretix webhooks and KoboToolbox REST Services, landed as batches.

Routes (docs/webhooks.md):

* `POST /webhooks/pretix/<source>`: pretix's small notification (`notification_id`, `organizer`,
  `event`, `code`, `action`). The order is fetched through the pretix API (the source's own
  client), pseudonymised with the `orders` stream's rules and landed as a one-record `orders`
  batch. A check-in action also re-reads the `checkins` snapshot (a normal extraction).
* `POST /webhooks/kobotoolbox/<source>`: the body IS the submission (a data-endpoint record); it is
  pseudonymised with the `submissions` rules and landed as a one-record `submissions` batch.
* `GET /health`: 200 when the receiver serves.

The sender proves it knows the source's shared secret (environment variable
`webhooks.secret_envs[<source>]`, default `ENGAGE_WEBHOOK_SECRET_<SOURCE>`): header
`X-Engage-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (preferred), or the secret itself in
header `X-Engage-Token` (KoboToolbox's custom headers) or in the URL as `?token=` (pretix's webhook
URL carries no headers). The query string is never logged.

Answers: 202 landed; 400 malformed JSON or a missing field; 401 missing or wrong secret; 404
unknown route, kind or source; 409 replay (pretix: a notification id already landed; KoboToolbox:
the same `_uuid` + `_submission_time`); 411 no Content-Length; 413 body over
`webhooks.max_body_bytes`; 502 the pretix API could not give the order (pretix retries).

Pushed batches record no cursor marks, on purpose: a push can arrive out of order or be one of
many missed, so moving the stream's cursor to a pushed record's time could skip records the
next pull has not read yet. The next pull lands the pushed record once more; that is harmless,
because raw tables are append-only and staging keeps the latest version per key.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from extractors import __version__, kobotoolbox, pretix
from extractors.asset_events import LandedBatch, OnLanded
from extractors.config import PipelineConfig
from extractors.erasure import filter_suppressed, load_suppressed
from extractors.extract import extract_stream, stream_writer
from extractors.http import SourceError
from extractors.privacy import Pseudonymiser, apply_rules

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Engage-Signature"
TOKEN_HEADER = "X-Engage-Token"
STATE_FOLDER = "_webhooks"  # inside the landing zone; never matches the batch glob */*/batch=*
PRETIX_FIELDS = ("notification_id", "organizer", "event", "code", "action")
KOBO_FIELDS = ("_id", "_uuid", "_xform_id_string", "_submission_time")
DRAIN_LIMIT = 1024 * 1024  # an oversized body up to this size is read and dropped so the 413 arrives


class Rejected(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def sign(secret: str, body: bytes) -> str:
    """The `X-Engage-Signature` value for a body: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- replay protection ----------------------------------------------------------------------------
class ReplayGuard:
    """Keys already landed, in an append-only file per source (`<epoch seconds>\\t<key>` lines).

    Check, land and record happen under an exclusive lock on the file, so two deliveries of the
    same notification (threads or processes) land once. Entries older than the window are dropped
    when the receiver starts (`compact`).
    """

    def __init__(self, path: Path, window_seconds: float) -> None:
        self.path = path
        self.window_seconds = window_seconds
        self._thread_lock = threading.Lock()

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.path.with_suffix(".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _entries(self) -> Iterator[tuple[float, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            stamp, _, key = line.partition("\t")
            try:
                yield float(stamp), key
            except ValueError:
                continue  # a torn last line after a crash

    def seen(self, key: str) -> bool:
        """Call with the lock held."""
        horizon = time.time() - self.window_seconds
        return any(k == key and at >= horizon for at, k in self._entries())

    def record(self, key: str) -> None:
        """Call with the lock held."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(f"{time.time():.3f}\t{key}\n")
            handle.flush()
            os.fsync(handle.fileno())

    def compact(self) -> None:
        if not self.path.exists():
            return  # nothing to forget (and no lock file to create)
        with self.locked():
            if not self.path.exists():
                return
            horizon = time.time() - self.window_seconds
            kept = [f"{at:.3f}\t{key}\n" for at, key in self._entries() if at >= horizon]
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text("".join(kept), encoding="utf-8")
            os.replace(temporary, self.path)


# -- landing one pushed record --------------------------------------------------------------------
def land_record(
    config: PipelineConfig,
    source_name: str,
    system: ModuleType,
    stream_name: str,
    record: dict[str, Any],
    via: str = "webhook",
) -> LandedBatch:
    """Pseudonymise one record with its stream's rules and land it as a one-record batch."""
    stream = system.STREAMS[stream_name]
    pseudonymiser = Pseudonymiser.from_environment(
        config.privacy.key_env, allow_demo_key=config.privacy.allow_demo_key
    )
    apply_rules(record, stream.privacy_rules, pseudonymiser)
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
    key = f"pretix:{note['notification_id']}"
    action = str(note["action"])
    with guard.locked():
        if guard.seen(key):
            raise Rejected(409, f"notification {note['notification_id']} was already received")
        org, event, code = (quote(str(note[f]), safe="") for f in ("organizer", "event", "code"))
        try:
            with pretix.make_client(source_name, source) as client:
                order = client.get_json(f"organizers/{org}/events/{event}/orders/{code}/")
        except SourceError as exc:
            raise Rejected(502, f"could not read the order from pretix: {exc}") from None
        if not isinstance(order, dict) or not order.get("code"):
            raise Rejected(502, "pretix answered the order request with something that is not an order")
        batches = [land_record(config, source_name, pretix, "orders", order, f"webhook:{action}")]
        guard.record(key)
    # A check-in does not change the order's last_modified: attendance comes from the check-in
    # lists, a snapshot stream, re-read by a normal extraction (it lands only if it changed).
    if action.startswith("pretix.event.checkin") and "checkins" in source.streams:
        result = extract_stream(config, source_name, "checkins")
        if result.batch_id:
            landed = LandedBatch(
                source_name, "checkins", result.batch_id, result.records, f"webhook:{action}"
            )
            batches.append(landed)
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


# -- the HTTP server ------------------------------------------------------------------------------
class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, config: PipelineConfig, on_landed: OnLanded | None, address: tuple[str, int]) -> None:
        self.config = config
        self.on_landed = on_landed
        self.max_body = config.webhooks.max_body_bytes
        window = config.webhooks.replay_window_days * 86400
        self.guards = {
            name: ReplayGuard(config.landing_dir / STATE_FOLDER / f"seen-{name}.tsv", window)
            for name in config.sources
        }
        for guard in self.guards.values():
            guard.compact()
        for name, source in config.sources.items():
            if source.kind in HANDLERS and not os.environ.get(config.webhooks.secret_env(name)):
                log.warning(
                    "%s takes no pushes: its secret variable %s is empty",
                    name,
                    config.webhooks.secret_env(name),
                )
        super().__init__(address, _Handler)

    def secret(self, source_name: str) -> str | None:
        return os.environ.get(self.config.webhooks.secret_env(source_name)) or None


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    timeout = 30  # seconds a client may take to send its request (no slow-body hang)
    protocol_version = "HTTP/1.1"
    server_version = f"engage-webhooks/{__version__}"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the base class would log the request line with its query string (the pretix token)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/health":
            self._reply(200, {"status": "ok"})
        else:
            self._reply(404, {"detail": "not found"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        started = time.monotonic()
        try:
            status, body = self._handle(url.path, parse_qs(url.query))
        except Rejected as exc:
            status, body = exc.status, {"detail": exc.detail}
        except Exception:
            log.exception("push to %s failed", url.path)
            status, body = 500, {"detail": "internal error; the push was not landed"}
        log.info("POST %s -> %d (%.0f ms)", url.path, status, (time.monotonic() - started) * 1000)
        self._reply(status, body)

    def _read_body(self) -> bytes:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise Rejected(411, "Content-Length is required")
        try:
            length = int(length_header)
        except ValueError:
            raise Rejected(400, "bad Content-Length") from None
        if length < 0:
            raise Rejected(400, "bad Content-Length")
        if length > self.server.max_body:
            self._drain(length)
            raise Rejected(413, f"body over {self.server.max_body} bytes")
        body = self.rfile.read(length)  # never more than the limit
        if len(body) != length:
            raise Rejected(400, "body shorter than its Content-Length")
        return body

    def _drain(self, length: int) -> None:
        """Read and drop a modest oversized body, so the client sees the 413 rather than a reset."""
        if length > DRAIN_LIMIT:
            return
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)

    def _authenticated(self, source_name: str, body: bytes, query: dict[str, list[str]]) -> None:
        secret = self.server.secret(source_name)
        signature = self.headers.get(SIGNATURE_HEADER)
        token = self.headers.get(TOKEN_HEADER) or (query.get("token") or [None])[0]
        if secret is None:
            raise Rejected(401, "this source takes no pushes (no shared secret configured)")
        if signature is not None:
            if hmac.compare_digest(signature.strip().encode(), sign(secret, body).encode()):
                return
            raise Rejected(401, "bad signature")
        if token is not None and hmac.compare_digest(token.encode(), secret.encode()):
            return
        raise Rejected(401, "missing or wrong secret")

    def _handle(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "webhooks" or parts[1] not in HANDLERS:
            raise Rejected(404, "not found")
        kind, source_name = parts[1], parts[2]
        source = self.server.config.sources.get(source_name)
        if source is None or source.kind != kind:
            raise Rejected(404, f"no {kind} source named {source_name!r}")
        body = self._read_body()
        self._authenticated(source_name, body, query)
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise Rejected(400, "the body is not JSON") from None
        accepted = HANDLERS[kind](self.server.config, source_name, payload, self.server.guards[source_name])
        for batch in accepted.batches:
            log.info("push landed %s/%s batch %s", batch.source_instance, batch.stream, batch.batch_id)
        refreshed = "none"
        if self.server.on_landed is not None:
            try:
                self.server.on_landed(self.server.config, accepted.batches)
                refreshed = "requested"
            except Exception as exc:  # landed is landed: the next run loads it; say so, do not fail
                log.error("push landed but the warehouse refresh could not be requested: %s", exc)
                refreshed = "failed"
        return 202, {
            "status": "accepted",
            "batches": [
                {"stream": b.stream, "batch_id": b.batch_id, "records": b.records} for b in accepted.batches
            ],
            "refresh": refreshed,
        }


def make_receiver(
    config: PipelineConfig, on_landed: OnLanded | None, host: str | None = None, port: int | None = None
) -> Receiver:
    """A receiver bound to host:port (defaults from `webhooks`; port 0: any free port)."""
    settings = config.webhooks
    return Receiver(config, on_landed, (host or settings.host, settings.port if port is None else port))


@contextmanager
def serve_in_thread(config: PipelineConfig, on_landed: OnLanded | None, port: int = 0) -> Iterator[str]:
    """Serve on 127.0.0.1 from a daemon thread; yields the base URL (for tests)."""
    server = make_receiver(config, on_landed, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, name="engage-webhooks", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
