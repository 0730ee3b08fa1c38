"""A tiny real HTTP server answering from a script: for the HTTP layer's edge cases."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = tuple[int, dict[str, str], object]


@contextmanager
def scripted_server(answer: Callable[[str, int], Reply]) -> Iterator[tuple[str, list[str]]]:
    """`answer(path, n)` gives (status, headers, body) for the n-th request; yields (base url, log)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            status, headers, body = answer(self.path, len(seen))
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            # POST (JSON-RPC): `answer(path, n, body)` also receives the request body (bytes).
            length = int(self.headers.get("Content-Length") or 0)
            posted = self.rfile.read(length) if length else b""
            seen.append(self.path)
            status, headers, body = answer(self.path, len(seen), posted)  # type: ignore[call-arg]
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", seen
    finally:
        server.shutdown()
        server.server_close()
