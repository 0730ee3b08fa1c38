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

Hostile kinds (bodies and links built in :mod:`simulator.hostile`):

* ``foreign_next`` -- a list page whose ``next`` points at ``foreign_origin`` (even the last page);
* ``cross_origin_redirect`` -- ``302`` to the same path and query on ``foreign_origin``;
* ``huge_retry_after`` -- ``429`` with ``Retry-After: <huge_retry_after>`` (10^9 s by default);
* ``trickle`` -- the real answer, its body sent one byte per ``trickle_seconds``;
* ``endless_links`` -- a list page whose ``next`` starts a chain of distinct links that never ends;
* ``gzip_bomb`` -- the real JSON then ``bomb_mib`` MiB of spaces, gzip-encoded (~1,000-fold);
* ``wrong_charset`` -- Latin-1 bytes labelled ``application/json`` (so UTF-8);
* ``nan`` -- the real object with a ``NaN`` value; ``duplicate_keys`` -- with a second, empty
  ``results`` (or its first key again);
* ``shifting_pages`` -- before answering, the data changes the way concurrent users change it
  (the router's mutator for the path: a pretix order modified, a KoboToolbox submission deleted,
  a LimeSurvey response added and one deleted), then the request is answered normally.

``huge_retry_after`` and ``endless_links`` are not transient: a client must stop (they are in
:data:`FATAL_KINDS`, out of the mixes the reliability suite draws from).

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
        # (times: at most that many faults per URL -- a transient fault that always clears;
        #  limit: at most that many faults by this rule in all)
    # optional: foreign_origin, huge_retry_after, trickle_seconds, bomb_mib

At run time: ``GET /_sim/faults`` (the plan and its counts), ``PUT /_sim/faults`` (a spec as the
JSON body replaces the plan), ``DELETE /_sim/faults`` (no faults); loopback clients only.
"""

from __future__ import annotations

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

from simulator import hostile
from simulator.http_app import encode_json

CLASSIC_KINDS = ("429", "500", "503", "slow", "reset", "truncated", "malformed", "repeat_page")
HOSTILE_KINDS = (
    "foreign_next",
    "cross_origin_redirect",
    "trickle",
    "gzip_bomb",
    "wrong_charset",
    "nan",
    "duplicate_keys",
    "shifting_pages",
)
FATAL_KINDS = ("huge_retry_after", "endless_links")
TRANSIENT_KINDS = CLASSIC_KINDS + HOSTILE_KINDS  # a well-behaved client survives each with a retry
FAULT_KINDS = TRANSIENT_KINDS + FATAL_KINDS
SPEC_KEYS = {"seed", "retry_after", "slow_seconds", "foreign_origin", "huge_retry_after"}
SPEC_KEYS |= {"trickle_seconds", "bomb_mib", "rules"}
CONTROL_PREFIX = "/_sim/"
# Query parameters naming the page of a list (DRF page number, limit/offset, KoboToolbox's start).
PAGE_PARAMS = ("page", "offset", "start")
hostile_after = frozenset(
    {"foreign_next", "endless_links", "gzip_bomb", "wrong_charset", "nan", "duplicate_keys", "trickle"}
)
MALFORMED_BODY = b"<html><head><title>502 Bad Gateway</title></head><body>upstream hiccup</body></html>"


@dataclass(frozen=True)
class FaultRule:
    """Requests whose path matches ``pattern`` (``re.search``) fail at ``rate``; kinds drawn by weight."""

    pattern: str
    rate: float
    kinds: tuple[tuple[str, float], ...]
    methods: frozenset[str] | None = None  # None: every method
    times: int | None = None  # at most this many faults per request URL (None: no limit)
    limit: int | None = None  # at most this many faults by this rule in all (None: no limit)

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
        limit: int | None = None,
    ) -> FaultRule:
        weighted = kinds.items() if isinstance(kinds, Mapping) else ((str(k), 1.0) for k in kinds)
        return cls(
            pattern,
            float(rate),
            tuple((str(k), float(w)) for k, w in weighted),
            frozenset(m.upper() for m in methods) if methods else None,
            times,
            limit,
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
    foreign_origin: str = "http://foreign.invalid"  # where foreign links and redirects point
    huge_retry_after: str = "1000000000"
    trickle_seconds: float = 1.0  # per byte
    bomb_mib: int = 256
    requests: int = 0  # requests matched by a rule (control routes and unmatched paths excluded)
    injected: Counter[str] = field(default_factory=Counter)
    _occurrences: Counter[str] = field(default_factory=Counter, repr=False)
    _faulted: Counter[str] = field(default_factory=Counter, repr=False)
    _by_rule: Counter[int] = field(default_factory=Counter, repr=False)
    _last_pages: dict[str, tuple[str, Any]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def everywhere(cls, rate: float, kinds: Iterable[str] | Mapping[str, float] = FAULT_KINDS, **kwargs: Any):
        """One rule over every (non-control) route."""
        return cls([FaultRule.of(".", rate, kinds)], **kwargs)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FaultPlan:
        unknown = set(spec) - SPEC_KEYS
        if unknown:
            raise ValueError(f"fault spec: unknown keys {sorted(unknown)}; known: {sorted(SPEC_KEYS)}")
        rules = [
            FaultRule.of(
                r["pattern"],
                r["rate"],
                r.get("kinds", TRANSIENT_KINDS),
                r.get("methods"),
                r.get("times"),
                r.get("limit"),
            )
            for r in spec.get("rules", [])
        ]
        optional = {k: spec[k] for k in ("foreign_origin", "huge_retry_after") if k in spec}
        return cls(
            rules,
            seed=int(spec.get("seed", 0)),
            retry_after=int(spec.get("retry_after", 1)),
            slow_seconds=float(spec.get("slow_seconds", 3.0)),
            trickle_seconds=float(spec.get("trickle_seconds", 1.0)),
            bomb_mib=int(spec.get("bomb_mib", 256)),
            **{k: str(v) for k, v in optional.items()},
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
        index, rule = next(
            ((i, r) for i, r in enumerate(self.rules) if r.applies(request.method, request.path)), (0, None)
        )
        if rule is None:
            return False
        handler._engage_rule = rule
        if request.arg(hostile.ENDLESS_PARAM) is not None:  # once in an endless chain, never out
            handler._engage_fault = "endless_links"
            return False
        query = urlencode(sorted((k, v) for k, vs in request.query.items() for v in vs))
        key = f"{request.method}:{request.path}?{query}"
        with self._lock:
            self.requests += 1
            self._occurrences[key] += 1
            draw = random.Random(f"{self.seed}:{key}:{self._occurrences[key]}")
            if draw.random() >= rule.rate or (rule.times is not None and self._faulted[key] >= rule.times):
                return False
            if rule.limit is not None and self._by_rule[index] >= rule.limit:
                return False
            self._faulted[key] += 1
            self._by_rule[index] += 1
        kinds, weights = zip(*rule.kinds, strict=True)
        kind = draw.choices(kinds, weights)[0]
        if kind == "shifting_pages":
            router = getattr(getattr(handler, "server", None), "router", None)
            if router is not None and router.mutate(request):
                self._count(kind)
            return False  # the changed data is answered normally
        if kind == "huge_retry_after":
            self._count(kind)
            detail = "Request was throttled. Expected available in a very long time."
            headers = {"Retry-After": self.huge_retry_after}
            self._send(handler, 429, encode_json({"detail": detail}), headers)
            return True
        if kind == "cross_origin_redirect":
            self._count(kind)
            headers = {"Location": hostile.foreign(request.url(), self.foreign_origin)}
            self._send(handler, 302, b"", headers)
            return True
        if kind in ("429", "500", "503", "malformed", "reset"):
            self._count(kind)
        if kind == "429":
            detail = f"Request was throttled. Expected available in {self.retry_after} second(s)."
            headers = {"Retry-After": str(self.retry_after)}
            self._send(handler, 429, encode_json({"detail": detail}), headers)
        elif kind in ("500", "503"):
            detail = "Internal server error (injected)" if kind == "500" else "Service unavailable (injected)"
            self._send(handler, int(kind), encode_json({"detail": detail}))
        elif kind == "malformed":
            self._send(handler, 200, MALFORMED_BODY, content_type="text/html")
        elif kind == "reset":
            # SO_LINGER with a zero timeout: closing sends RST, not FIN; nothing is written first.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
        else:  # slow, truncated, repeat_page and the hostile bodies: they need the routed response
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
                self._send(handler, 200, encode_json(previous[1]))
                return True  # the client's copy of this list still ends at the previous page
            kind = None  # not applicable here (a first page, or no list): answer normally
        if page is not None and kind is None:  # what the client gets: remember it for a repeat
            with self._lock:
                if response.body.get("next"):
                    self._last_pages[page[0]] = (page[1], response.body)
                else:
                    self._last_pages.pop(page[0], None)  # the walk is over: forget it
        if kind in hostile_after:
            return self._hostile(handler, request, response, kind)
        if kind in ("slow", "truncated"):
            self._count(kind)
            payload = b"" if response.body is None else encode_json(response.body)
            if kind == "slow":
                time.sleep(self.slow_seconds)  # then answer in full (the client has likely given up)
            else:
                payload = payload[: max(1, len(payload) // 2)]
            self._send(handler, response.status, payload, response.headers)
            return True
        return False

    def _hostile(self, handler: Any, request: Any, response: Any, kind: str) -> bool:
        """Send the hostile version of a routed answer; False when the kind does not apply to it."""
        body, headers = response.body, {}
        is_list = response.status == 200 and isinstance(body, dict) and isinstance(body.get("results"), list)
        if kind in ("foreign_next", "endless_links") and not is_list:
            return False
        if kind == "foreign_next":
            payload = encode_json(hostile.foreign_next(body, request.url(), self.foreign_origin))
        elif kind == "endless_links":
            payload = encode_json(hostile.endless_next(body, request.url()))
        elif kind == "gzip_bomb":
            payload, headers = hostile.gzip_bomb(body, self.bomb_mib)
        elif kind == "wrong_charset":
            payload, headers = hostile.wrong_charset(body)
        elif kind == "nan":
            payload = hostile.with_nan(body)
        elif kind == "duplicate_keys":
            payload = hostile.with_duplicate_key(body)
        else:  # trickle
            self._count(kind)
            payload = b"" if body is None else encode_json(body)
            hostile.trickle(handler, response.status, payload, self.trickle_seconds, give_up_after=120.0)
            return True
        self._count(kind)
        self._send(handler, response.status, payload, {**response.headers, **headers})
        return True

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
