"""A tiny JSON-over-HTTP framework shared by the simulated partner systems.

Each partner system module registers its routes on a :class:`Router`; :func:`make_server` serves
one router on a ``ThreadingHTTPServer``. Pagination helpers follow Django REST framework's page
number pagination, which pretix (and KoboToolbox) use.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import msgspec


def encode_json(body: Any) -> bytes:
    """A JSON answer's bytes: compact UTF-8, as DRF renders by default (COMPACT_JSON, UNICODE_JSON).
    msgspec encodes a page of 50 orders in a fraction of json.dumps's time, which was 44 % of
    serving one at 100x the programme."""
    return msgspec.json.encode(body)


class HttpError(Exception):
    """Raised by handlers to answer with a JSON ``{"detail": ...}`` error."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    client_host: str
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter, as Django's QueryDict.get does."""
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool | None:
        """A boolean query parameter (true/false, 1/0); None when absent."""
        value = self.arg(name)
        if value is None or value == "":
            return None
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise HttpError(400, f"Invalid boolean value for {name}: {value!r}.")

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise HttpError(400, f"JSON parse error - {exc}") from exc

    def url(self, **overrides: Any) -> str:
        """This request's absolute URL (from the Host header) with query parameters replaced."""
        query = {k: v[-1] for k, v in self.query.items()}
        for key, value in overrides.items():
            if value is None:
                query.pop(key, None)
            else:
                query[key] = str(value)
        host = self.headers.get("host", "localhost")
        suffix = f"?{urlencode(query)}" if query else ""
        return f"http://{host}{self.path}{suffix}"

    @property
    def is_loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.client_host).is_loopback
        except ValueError:
            return False


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response | Any]


Mutator = Callable[[Request], bool]


class Router:
    """Maps ``METHOD /path/{param}/`` patterns to handlers; first match wins.

    Mutators change the data the way concurrent users would (the fault plan's ``shifting_pages``
    calls :meth:`mutate` between page fetches); each system registers its own for its list routes.
    """

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._mutators: list[tuple[re.Pattern[str], Mutator]] = []

    def add_mutator(self, pattern: str, mutator: Mutator) -> None:
        """``pattern``: a regular expression searched in the request path."""
        self._mutators.append((re.compile(pattern), mutator))

    def mutate(self, request: Request) -> bool:
        """Run the first mutator whose pattern matches; True when it changed something."""
        for pattern, mutator in self._mutators:
            if pattern.search(request.path):
                return mutator(request)
        return False

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        # literal text is escaped; each {name} becomes one path segment
        pieces = re.split(r"\{(\w+)\}", pattern)
        regex = "".join(
            re.escape(piece) if i % 2 == 0 else f"(?P<{piece}>[^/]+)" for i, piece in enumerate(pieces)
        )
        self._routes.append((method.upper(), re.compile(f"^{regex}$"), handler))

    def add_prefix(self, method: str, prefix: str, handler: Handler) -> None:
        """A handler for every path under ``prefix`` that no earlier route took (a fallback)."""
        self._routes.append((method.upper(), re.compile(f"^{re.escape(prefix)}.*$"), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler

        return decorator

    def include(self, other: Router) -> None:
        self._routes.extend(other._routes)
        self._mutators.extend(other._mutators)

    def dispatch(self, request: Request) -> Response:
        allowed = False
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if not match:
                continue
            if method != request.method:
                allowed = True
                continue
            request.params = match.groupdict()
            result = handler(request)
            return result if isinstance(result, Response) else Response(200, result)
        if allowed:
            raise HttpError(405, f'Method "{request.method}" not allowed.')
        raise HttpError(404, "Not found.")


class ListTail(Sequence):
    """`items[start:]` without copying it. A page needs 50 records and the count; a copy of a
    1.7M-order list per page is young garbage the collector walks, record by record, several
    times a page (at 10x the programme that was 60 % of serving a page)."""

    def __init__(self, items: Sequence, start: int) -> None:
        self._items, self._start = items, start

    def __len__(self) -> int:
        return max(len(self._items) - self._start, 0)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            begin, end, step = index.indices(len(self))
            return self._items[self._start + begin : self._start + end : step]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._items[self._start + index]


def paginate(
    request: Request,
    items: Sequence[Any],
    render: Callable[[Any], Any] = lambda item: item,
    *,
    default_size: int = 50,
    max_size: int = 1000,
) -> dict[str, Any]:
    """DRF page-number pagination: ``count``, absolute ``next``/``previous``, ``results``."""
    try:
        size = int(request.arg("page_size") or default_size)
    except ValueError:
        size = default_size
    size = min(max(size, 1), max_size)
    raw_page = request.arg("page") or "1"
    pages = max(1, -(-len(items) // size))
    if raw_page == "last":
        page = pages
    else:
        try:
            page = int(raw_page)
        except ValueError:
            page = 0
    if not 1 <= page <= pages:
        raise HttpError(404, "Invalid page.")
    start = (page - 1) * size
    if page == 1:
        previous = None
    elif page == 2:
        previous = request.url(page=None)  # DRF drops the parameter for the first page
    else:
        previous = request.url(page=page - 1)
    return {
        "count": len(items),
        "next": request.url(page=page + 1) if page < pages else None,
        "previous": previous,
        "results": [render(item) for item in items[start : start + size]],
    }


FAULTS_ROUTE = "/_sim/faults"


class _QuietServer(ThreadingHTTPServer):
    """A client hanging up (a timeout, a refused trickle or bomb) is routine here, not an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _fault_control(server: Any, request: Request) -> Response:
    """The fault plan at run time: GET its counts, PUT a spec (JSON body) to replace it, DELETE it."""
    from simulator.faults import FaultPlan

    if not request.is_loopback:
        raise HttpError(403, "The control API only answers loopback clients.")
    if request.method in ("PUT", "POST"):
        try:
            server.faults = FaultPlan.from_spec(request.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise HttpError(400, f"fault spec: {exc}") from exc
    elif request.method == "DELETE":
        server.faults = None
    elif request.method != "GET":
        raise HttpError(405, f'Method "{request.method}" not allowed.')
    plan = server.faults
    if plan is None:
        return Response(200, {"active": False})
    rules = [
        {"pattern": r.pattern, "rate": r.rate, "kinds": dict(r.kinds), "times": r.times, "limit": r.limit}
        for r in plan.rules
    ]
    return Response(200, {"active": True, "seed": plan.seed, "rules": rules, "report": plan.report()})


def make_server(host: str, port: int, router: Router, *, verbose: bool = False, faults: Any = None):
    """A ThreadingHTTPServer answering JSON from ``router``.

    ``faults``: a :class:`simulator.faults.FaultPlan` consulted before and after routing; it is
    ``server.faults`` and can be replaced at run time through ``/_sim/faults``.
    """

    class JsonHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "engage-simulator"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
                client_host=self.client_address[0],
            )
            faults = self.server.faults
            if faults is not None and faults.before(self, request):
                return  # the fault plan answered (or dropped the connection)
            try:
                if request.path == FAULTS_ROUTE:
                    response = _fault_control(self.server, request)
                else:
                    response = router.dispatch(request)
            except HttpError as exc:
                body = getattr(exc, "body", None) or {"detail": exc.detail}
                response = Response(exc.status, body, exc.headers)
            except Exception as exc:  # a bug in a handler must not kill the connection silently
                if verbose:
                    import traceback

                    traceback.print_exc()
                response = Response(500, {"detail": f"Internal server error: {exc}"})
            if faults is not None and faults.after(self, request, response):
                return  # the fault plan sent a spoiled answer
            self._send(response)

        def _send(self, response: Response) -> None:
            headers = dict(response.headers)
            if isinstance(response.body, bytes):  # a non-JSON page (PHP's or Django's HTML errors)
                payload = response.body
                content_type = headers.pop("Content-Type", "text/html; charset=utf-8")
            else:
                payload = b"" if response.body is None else encode_json(response.body)
                content_type = "application/json"
            self.send_response(response.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            if verbose:
                sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    server = _QuietServer((host, port), JsonHandler)
    server.daemon_threads = True
    server.faults = faults
    server.router = router
    return server
