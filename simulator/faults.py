"""Fault injection for the simulator: a seeded, deterministic plan of what goes wrong, and where.

A :class:`FaultPlan` holds rules, each a regular expression searched in the request path, a rate
(the share of matching requests that fail) and the fault kinds to draw from (with weights). The
first rule whose pattern matches a request applies; ``/_sim/`` control routes are never touched.

Kinds, and what the client sees:

* ``429`` -- ``429 Too Many Requests`` with ``Retry-After: <retry_after>`` (1 by default; 0 allowed);
* ``500``, ``503`` -- a server error with a JSON ``detail``;
* ``slow`` -- the answer comes ``slow_seconds`` late (set it past the client's timeout: a read timeout);
* ``reset`` -- the connection is reset (TCP RST) without any response;
* ``truncated`` -- the real status and headers, the body cut in the middle of the JSON
  (``Content-Length`` says the cut length: the transport is fine, the document is not);
* ``malformed`` -- ``200`` with an HTML body (a proxy's error page), not JSON;
* ``repeat_page`` -- the previous page's body again, for a paginated list (DRF ``results`` with a
  ``next`` link) walked forward; never on a list's first page, where a stale body would be
  indistinguishable from the real first page.

Deterministic: whether the n-th request for a given method + path + query fails, and how, is drawn
from ``random.Random(f"{seed}:{method}:{path}?{query}:{n}")``, so a sequential client meets the
same faults in every run whatever the thread scheduling, and a retry of the same URL gets a fresh
draw. The plan counts requests seen and faults injected per kind (:meth:`FaultPlan.report`).

A spec (``--faults`` on the command line, a file path or inline JSON/YAML)::

    seed: 7
    retry_after: 1
    slow_seconds: 3
    rules:
      - pattern: "^/(pretix|kobo|limesurvey)/"
        rate: 0.3
        kinds: ["429", "500", "503", "slow", "reset", "truncated", "malformed", "repeat_page"]
        # or weighted: kinds: {"500": 2, "reset": 1}; optional: methods: [GET], times: 1
        # (times: at most that many faults per URL -- a transient fault that always clears)
"""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

FAULT_KINDS = ("429", "500", "503", "slow", "reset", "truncated", "malformed", "repeat_page")
CONTROL_PREFIX = "/_sim/"
# Query parameters naming the page of a list (DRF page number, limit/offset, KoboToolbox's start).
PAGE_PARAMS = ("page", "offset", "start")
MALFORMED_BODY = b"<html><head><title>502 Bad Gateway</title></head><body>upstream hiccup</body></html>"


@dataclass(frozen=True)
class FaultRule:
    """Requests whose path matches ``pattern`` (``re.search``) fail at ``rate``; kinds drawn by weight."""

    pattern: str
    rate: float
    kinds: tuple[tuple[str, float], ...]
    methods: frozenset[str] | None = None  # None: every method
    times: int | None = None  # at most this many faults per request URL (None: no limit)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rule {self.pattern!r}: rate must be between 0 and 1, got {self.rate}")
        if not self.kinds:
            raise ValueError(f"fault rule {self.pattern!r}: no fault kinds")
        unknown = sorted({kind for kind, _ in self.kinds} - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"fault rule {self.pattern!r}: unknown kinds {unknown}; known: {FAULT_KINDS}")
        if any(weight < 0 for _, weight in self.kinds) or sum(w for _, w in self.kinds) <= 0:
            raise ValueError(f"fault rule {self.pattern!r}: weights must be >= 0 and not all 0")
        re.compile(self.pattern)

    @classmethod
    def of(
        cls,
        pattern: str,
        rate: float,
        kinds: Iterable[str] | Mapping[str, float] = FAULT_KINDS,
        methods: Iterable[str] | None = None,
        times: int | None = None,
    ) -> FaultRule:
        weighted = kinds.items() if isinstance(kinds, Mapping) else ((str(k), 1.0) for k in kinds)
        return cls(
            pattern,
            float(rate),
            tuple((str(k), float(w)) for k, w in weighted),
            frozenset(m.upper() for m in methods) if methods else None,
            times,
        )

    def applies(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and re.search(self.pattern, path) is not None

    def has(self, kind: str) -> bool:
        return any(k == kind and w > 0 for k, w in self.kinds)


@dataclass
class FaultPlan:
    """What fails where; the simulator's request handler consults it before and after routing."""

    rules: list[FaultRule]
    seed: int = 0
    retry_after: int = 1
    slow_seconds: float = 3.0
    requests: int = 0  # requests matched by a rule (control routes and unmatched paths excluded)
    injected: Counter[str] = field(default_factory=Counter)
    _occurrences: Counter[str] = field(default_factory=Counter, repr=False)
    _faulted: Counter[str] = field(default_factory=Counter, repr=False)
    _last_pages: dict[str, tuple[str, Any]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def everywhere(cls, rate: float, kinds: Iterable[str] | Mapping[str, float] = FAULT_KINDS, **kwargs: Any):
        """One rule over every (non-control) route."""
        return cls([FaultRule.of(".", rate, kinds)], **kwargs)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FaultPlan:
        unknown = set(spec) - {"seed", "retry_after", "slow_seconds", "rules"}
        if unknown:
            raise ValueError(f"fault spec: unknown keys {sorted(unknown)}")
        rules = [
            FaultRule.of(
                r["pattern"], r["rate"], r.get("kinds", FAULT_KINDS), r.get("methods"), r.get("times")
            )
            for r in spec.get("rules", [])
        ]
        return cls(
            rules,
            seed=int(spec.get("seed", 0)),
            retry_after=int(spec.get("retry_after", 1)),
            slow_seconds=float(spec.get("slow_seconds", 3.0)),
        )

    @classmethod
    def load(cls, text_or_path: str) -> FaultPlan:
        """A spec from a JSON/YAML file, or given inline as JSON/YAML text."""
        import yaml  # JSON is YAML

        path = Path(text_or_path)
        text = path.read_text(encoding="utf-8") if path.is_file() else text_or_path
        spec = yaml.safe_load(text)
        if not isinstance(spec, Mapping):
            raise ValueError(f"fault spec must be a mapping, got {type(spec).__name__}")
        return cls.from_spec(spec)

    @classmethod
    def coerce(cls, value: FaultPlan | Mapping[str, Any] | str | None) -> FaultPlan | None:
        if value is None or isinstance(value, FaultPlan):
            return value
        if isinstance(value, Mapping):
            return cls.from_spec(value)
        return cls.load(value)

    # -- reporting -----------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        with self._lock:
            faults = sum(self.injected.values())
            return {
                "requests": self.requests,
                "faults": faults,
                "fault_rate": round(faults / self.requests, 4) if self.requests else 0.0,
                "by_kind": {kind: self.injected[kind] for kind in FAULT_KINDS if self.injected[kind]},
            }

    # -- the hook: before and after routing ----------------------------------------------------
    def before(self, handler: Any, request: Any) -> bool:
        """Decide this request's fault; answer it now (True) or let routing go ahead (False)."""
        handler._engage_fault = handler._engage_rule = None
        if request.path.startswith(CONTROL_PREFIX):
            return False
        rule = next((r for r in self.rules if r.applies(request.method, request.path)), None)
        if rule is None:
            return False
        handler._engage_rule = rule
        query = urlencode(sorted((k, v) for k, vs in request.query.items() for v in vs))
        key = f"{request.method}:{request.path}?{query}"
        with self._lock:
            self.requests += 1
            self._occurrences[key] += 1
            draw = random.Random(f"{self.seed}:{key}:{self._occurrences[key]}")
            if draw.random() >= rule.rate or (rule.times is not None and self._faulted[key] >= rule.times):
                return False
            self._faulted[key] += 1
        kinds, weights = zip(*rule.kinds, strict=True)
        kind = draw.choices(kinds, weights)[0]
        if kind in ("429", "500", "503", "malformed", "reset"):
            self._count(kind)
        if kind == "429":
            detail = f"Request was throttled. Expected available in {self.retry_after} second(s)."
            headers = {"Retry-After": str(self.retry_after)}
            self._send(handler, 429, json.dumps({"detail": detail}).encode(), headers)
        elif kind in ("500", "503"):
            detail = "Internal server error (injected)" if kind == "500" else "Service unavailable (injected)"
            self._send(handler, int(kind), json.dumps({"detail": detail}).encode())
        elif kind == "malformed":
            self._send(handler, 200, MALFORMED_BODY, content_type="text/html")
        elif kind == "reset":
            # SO_LINGER with a zero timeout: closing sends RST, not FIN; nothing is written first.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
        else:  # slow, truncated, repeat_page: they need the routed response
            handler._engage_fault = kind
            return False
        return True

    def after(self, handler: Any, request: Any, response: Any) -> bool:
        """Spoil the routed ``response`` if this request's fault needs it (True: already answered)."""
        kind = getattr(handler, "_engage_fault", None)
        handler._engage_fault = None
        rule: FaultRule | None = getattr(handler, "_engage_rule", None)
        handler._engage_rule = None
        page = self._page_of(request, response) if rule is not None and rule.has("repeat_page") else None
        if kind == "repeat_page" and page is not None:
            list_key, page_id = page
            with self._lock:
                previous = self._last_pages.get(list_key)
            if previous is not None and previous[0] != page_id and page_id not in ("", "1", "0"):
                self._count(kind)
                self._send(handler, 200, json.dumps(previous[1]).encode())
                return True  # the client's copy of this list still ends at the previous page
            kind = None  # not applicable here (a first page, or no list): answer normally
        if page is not None and kind is None:  # what the client gets: remember it for a repeat
            with self._lock:
                if response.body.get("next"):
                    self._last_pages[page[0]] = (page[1], response.body)
                else:
                    self._last_pages.pop(page[0], None)  # the walk is over: forget it
        if kind in ("slow", "truncated"):
            self._count(kind)
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            if kind == "slow":
                time.sleep(self.slow_seconds)  # then answer in full (the client has likely given up)
            else:
                payload = payload[: max(1, len(payload) // 2)]
            self._send(handler, response.status, payload, response.headers)
            return True
        return False

    # -- helpers -------------------------------------------------------------------------------
    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    @staticmethod
    def _page_of(request: Any, response: Any) -> tuple[str, str] | None:
        """(list key, page id) of a paginated list answer; None for anything else."""
        body = response.body
        if response.status != 200 or not isinstance(body, dict) or not isinstance(body.get("results"), list):
            return None
        if "next" not in body:
            return None
        rest = sorted((k, v) for k, vs in request.query.items() if k not in PAGE_PARAMS for v in vs)
        page_id = next((request.arg(p) for p in PAGE_PARAMS if request.arg(p) not in (None, "")), "")
        return f"{request.path}?{urlencode(rest)}", page_id

    @staticmethod
    def _send(
        handler: Any,
        status: int,
        payload: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                if name.lower() not in ("content-type", "content-length"):
                    handler.send_header(name, value)
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(payload)
        except OSError:  # the client went away (it timed out): nothing to answer
            handler.close_connection = True
