"""The partner-push receiver: pretix webhooks and KoboToolbox REST Services, landed as batches.

Routes (docs/webhooks.md):

* `POST /webhooks/pretix/<source>`: pretix's small notification (`notification_id`, `organizer`,
  `event`, `code`, `action`). The order is fetched through the pretix API (the source's own
  client), pseudonymised with the `orders` stream's rules and landed as a one-record `orders`
  batch; a check-in action needs no more (the order carries its positions' check-ins).
* `POST /webhooks/kobotoolbox/<source>`: the body IS the submission (a data-endpoint record); it is
  pseudonymised with the `submissions` rules and landed as a one-record `submissions` batch.
* `GET /health`: 200 when the receiver serves.

The sender proves it knows the source's shared secret (environment variable
`webhooks.secret_envs[<source>]`, default `ENGAGE_WEBHOOK_SECRET_<SOURCE>`): header
`X-Engage-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (preferred), or the secret itself in
header `X-Engage-Token` (KoboToolbox's custom headers) or in the URL as `?token=` (pretix's webhook
URL carries no headers). The query string is never logged.

Answers: 202 landed; 400 malformed or too deeply nested JSON, a missing field, an order code or
event slug that is not a plain path segment, a duplicate, mismatching or chunked Content-Length;
401 unknown source, a source that takes no pushes, or a missing or wrong secret (one answer for all,
so source names cannot be probed); 404 unknown route or kind; 408 the request was not received
within `webhooks.request_deadline_seconds` (the whole request, not each read); 409 replay (pretix:
a notification id already landed or landing; KoboToolbox: the same `_uuid` + `_submission_time`);
411 no Content-Length; 413 body over `webhooks.max_body_bytes`; 502 the pretix API could not give
the order (pretix retries); 503 all `webhooks.max_workers` are busy (the sender retries).

Pushed batches record no cursor marks, on purpose: a push can arrive out of order or be one of
many missed, so moving the stream's cursor to a pushed record's time could skip records the
next pull has not read yet. The next pull lands the pushed record once more; that is harmless,
because raw tables are append-only and staging keeps the latest version per key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets as secrets_module
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from engage.config import PipelineConfig
from engage.orchestration.asset_events import OnLanded
from engage.webhooks.handlers import HANDLERS, Rejected
from engage.webhooks.replay import ReplayGuard
from extractors import __version__

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Engage-Signature"
TOKEN_HEADER = "X-Engage-Token"
STATE_FOLDER = "_webhooks"  # inside the landing zone; never matches the batch glob */*/batch=*
DRAIN_LIMIT = 1024 * 1024  # an oversized body up to this size is read and dropped so the 413 arrives
MAX_JSON_DEPTH = 32  # far deeper than any real push; deeper bodies are refused, not recursed into
UNAUTHORISED = "unknown source or missing or wrong secret"
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
    b'Connection: close\r\nContent-Length: 27\r\n\r\n{"detail": "busy, retry"}\r\n'
)


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed document (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def sign(secret: str, body: bytes) -> str:
    """The `X-Engage-Signature` value for a body: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Receiver(HTTPServer):
    """An HTTP server with a bounded worker pool: a request beyond `max_workers` gets 503 at once."""

    def __init__(self, config: PipelineConfig, on_landed: OnLanded | None, address: tuple[str, int]) -> None:
        self.config = config
        self.on_landed = on_landed
        self.max_body = config.webhooks.max_body_bytes
        self.deadline = config.webhooks.request_deadline_seconds
        workers = config.webhooks.max_workers
        self.slots = threading.BoundedSemaphore(workers)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engage-webhooks")
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

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            with suppress(OSError):
                request.sendall(BUSY)
            self.shutdown_request(request)
            return
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, no traceback on stderr: a sender that hangs up mid-request is not news."""
        log.warning("a webhook connection ended in error (the sender hung up or timed out)")

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"
    server_version = f"engage-webhooks/{__version__}"

    def setup(self) -> None:
        # One deadline for the whole request (headers and body), not per read: when it passes, the
        # reading side of the socket is shut, so a trickling sender's next read ends at once.
        self.timeout = self.server.deadline + 5  # a backstop only: the watchdog below comes first
        super().setup()
        self.expired = False
        self._watchdog = threading.Timer(self.server.deadline, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self) -> None:
        self.expired = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RD)

    def finish(self) -> None:
        self._watchdog.cancel()
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the base class would log the request line with its query string (the pretix token)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")  # one request per connection: one deadline each
        self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._watchdog.cancel()
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
        lengths = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding") is not None:
            raise Rejected(400, "chunked or encoded bodies are not accepted: send a Content-Length")
        if not lengths:
            raise Rejected(411, "Content-Length is required")
        if len(lengths) > 1:
            raise Rejected(400, "more than one Content-Length")
        length_header = lengths[0].strip()
        if not length_header.isdigit():
            raise Rejected(400, "bad Content-Length")
        length = int(length_header)
        if length > self.server.max_body:
            self._drain(length)
            raise Rejected(413, f"body over {self.server.max_body} bytes")
        late = Rejected(408, f"the request was not received within {self.server.deadline:g} s")
        try:
            body = self.rfile.read(length)  # never more than the limit
        except TimeoutError:
            raise late from None
        if self.expired:
            raise late
        if len(body) != length:
            raise Rejected(400, "body shorter than its Content-Length")
        if self._more_waiting():
            raise Rejected(400, "body longer than its Content-Length")
        self._watchdog.cancel()  # received whole: the handling has its own bounds (HTTP timeouts)
        return body

    def _more_waiting(self) -> bool:
        """Bytes beyond the declared length, already buffered or on the socket (looked at without
        waiting: the socket is non-blocking for the peek)."""
        self.connection.setblocking(False)
        try:
            return bool(self.rfile.peek(1))
        except OSError:
            return False
        finally:
            self.connection.settimeout(self.timeout)

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

    def _authenticated(self, kind: str, source_name: str, body: bytes, query: dict[str, list[str]]) -> None:
        """One answer (401, same text) for an unknown source, one without a secret and a wrong secret."""
        source = self.server.config.sources.get(source_name)
        known = source is not None and source.kind == kind
        secret = self.server.secret(source_name) if known else None
        # Compare against something even when there is no secret: the same work, the same answer.
        expected = secret or secrets_module.token_hex(16)
        signature = self.headers.get(SIGNATURE_HEADER)
        token = self.headers.get(TOKEN_HEADER) or (query.get("token") or [None])[0]
        if signature is not None:
            matches = hmac.compare_digest(signature.strip().encode(), sign(expected, body).encode())
        else:
            matches = token is not None and hmac.compare_digest(token.encode(), expected.encode())
        if not (matches and secret is not None):
            raise Rejected(401, UNAUTHORISED)

    def _handle(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "webhooks" or parts[1] not in HANDLERS:
            raise Rejected(404, "not found")
        kind, source_name = parts[1], parts[2]
        body = self._read_body()
        self._authenticated(kind, source_name, body, query)
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Rejected(400, "the body is not JSON (or nests too deeply)") from None
        if json_depth(payload) > MAX_JSON_DEPTH:
            raise Rejected(400, f"the body nests deeper than {MAX_JSON_DEPTH} levels")
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
    thread = threading.Thread(target=server.serve_forever, name="engage-webhooks-accept", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
