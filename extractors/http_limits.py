"""What the HTTP client refuses: other origins, endless waits, oversized bodies, untrustworthy JSON.

Each check is small and raises a plain exception; `extractors.http` turns them into messages that
name the source and stream. A bound is enforced while the response streams in, never after the
whole body is in memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

READ_CHUNK = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def without_query(url: str) -> str:
    """A URL fit for a message: no query string, no fragment, no user info."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class OriginRefused(Exception):
    """A link or redirect leading away from the source's own origin (or the allow-list)."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"{why}: {without_query(url)}")
        self.url = url


class Origins:
    """The origins a client may talk to: its base URL's, plus an explicit allow-list."""

    def __init__(self, base_url: str, extra: Iterable[str] = ()) -> None:
        self.base = origin_of(base_url)
        self.allowed = {self.base, *(origin_of(url) for url in extra)}

    def check(self, url: str, what: str) -> None:
        origin = origin_of(url)
        if origin in self.allowed:
            return
        if self.base[0] == "https" and origin[0] == "http":
            raise OriginRefused(url, f"{what} downgrades https to http")
        raise OriginRefused(url, f"{what} leaves the source's origin")


class RetryAfterRefused(Exception):
    """The server asked to wait longer than the configured cap (or the stream's remaining budget)."""


class BudgetExhausted(Exception):
    """The stream run's time budget ran out between two of urllib3's attempts."""


class BoundedRetry(Retry):
    """urllib3's Retry, refusing to sleep longer than `retry_after_cap` or the remaining budget.

    urllib3 clamps Retry-After to `retry_after_max` and waits; we would rather stop with a message
    saying what the server asked than wait minutes per attempt.
    """

    def __init__(
        self,
        *args: Any,
        retry_after_cap: float = 300.0,
        remaining: Callable[[], float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap
        self.remaining = remaining

    def new(self, **kw: Any) -> BoundedRetry:
        fresh = super().new(**kw)
        fresh.retry_after_cap, fresh.remaining = self.retry_after_cap, self.remaining
        return fresh

    def increment(self, *args: Any, **kwargs: Any) -> BoundedRetry:
        if self.remaining is not None and self.remaining() <= 0:
            raise BudgetExhausted("the run took longer than http.stream_budget_seconds")
        return super().increment(*args, **kwargs)

    def sleep_for_retry(self, response: Any) -> bool:
        header = response.headers.get("Retry-After")
        if header is None:
            return False
        asked = Retry(retry_after_max=float("inf")).parse_retry_after(header)
        if asked > self.retry_after_cap:
            raise RetryAfterRefused(
                f"the server asked to wait {asked:,.0f} s before retrying (Retry-After: "
                f"{header.strip()[:40]}), more than http.max_retry_after_seconds ({self.retry_after_cap:g} s)"
            )
        if self.remaining is not None and asked > self.remaining():
            raise RetryAfterRefused(
                f"the server asked to wait {asked:,.0f} s before retrying, more than the"
                f" {max(self.remaining(), 0):,.0f} s left of http.stream_budget_seconds"
            )
        return super().sleep_for_retry(response)


class BodyRefused(Exception):
    """A response body that took too long or grew too large; `retriable` says whether to ask again."""

    def __init__(self, message: str, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


def read_body(response: Any, *, deadline: float, read_timeout: float, max_bytes: int) -> bytes:
    """The decoded body of a streamed `requests` response, within a deadline and a size limit.

    A read timeout bounds each socket read, not the whole body: a server trickling a byte a second
    never trips it. So each read waits at most what is left before `deadline` (a monotonic time),
    and the decompressed size is counted as it grows (urllib3 inflates at most a chunk at a time).
    """
    raw = response.raw
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BodyRefused("the response did not arrive in full within http.response_deadline_seconds")
        if sock is not None:
            sock.settimeout(min(read_timeout, left))
        try:
            chunk = raw.read1(READ_CHUNK, decode_content=True)
        except ReadTimeoutError:
            if time.monotonic() >= deadline:
                raise BodyRefused(
                    "the response did not arrive in full within http.response_deadline_seconds"
                ) from None
            raise BodyRefused("the body stalled past http.timeout_seconds") from None
        except (ProtocolError, DecodeError, OSError) as exc:
            raise BodyRefused(f"the body was cut or garbled ({type(exc).__name__})") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise BodyRefused(
                f"the response is larger than http.max_response_mib ({max_bytes / 2**20:g} MiB) "
                "after decompression"
            )
        chunks.append(chunk)


class UntrustedJson(ValueError):
    """A body that is not strict JSON in its declared charset."""


def _reject_constant(name: str) -> Any:
    raise UntrustedJson(f"the JSON holds {name}, which JSON does not allow")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise UntrustedJson(f"the JSON repeats the key {twice[:60]!r} in one object")
    return document


def charset_of(content_type: str | None) -> str:
    """The declared charset; JSON without one is UTF-8 (RFC 8259)."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"').lower()
    return "utf-8"


_UNPROVEN = object()
_JSON_WHITESPACE = b" \t\r\n"


def _exact_round_trip(body: bytes) -> Any:
    """The body parsed by msgspec, if encoding the result gives the body back byte for byte.

    Equal bytes prove the body strict: msgspec refuses invalid UTF-8 and NaN/Infinity, and a
    repeated key would be one pair short in the re-encoding. Compact UTF-8 bodies (DRF's default,
    so pretix and KoboToolbox) pass at a fraction of the cost of the strict parser's Python hook on
    every object; any other body (spaces, escapes, a number written another way) takes that parser,
    which says what is wrong."""
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, OverflowError):
        return _UNPROVEN
    if msgspec.json.encode(document) != body.strip(_JSON_WHITESPACE):
        return _UNPROVEN
    return document


def strict_json(body: bytes, content_type: str | None) -> Any:
    """Parse a body in its declared charset; invalid bytes, NaN/Infinity and repeated keys refused."""
    charset = charset_of(content_type)
    if charset in ("utf-8", "utf8"):
        document = _exact_round_trip(body)
        if document is not _UNPROVEN:
            return document
    try:
        text = body.decode(charset)
    except LookupError:
        raise UntrustedJson(f"the response declares an unknown charset {charset[:40]!r}") from None
    except UnicodeDecodeError as exc:
        raise UntrustedJson(f"the body is not valid {charset} (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except UntrustedJson:
        raise
    except ValueError:
        raise UntrustedJson("the body is not JSON") from None


def status_message(status: int, url: str, body: str) -> str:
    """One message per kind of refusal; only a 401 is about credentials."""
    if status == 401:
        return (
            f"authentication refused (HTTP 401) for {url}: check the credentials in the configured "
            "environment variables"
        )
    if status == 403:
        return (
            f"permission denied (HTTP 403) for {url}: the account may not read this resource, or it "
            "does not exist (pretix answers 403 for an unknown event or organiser)"
        )
    if status == 404:
        return f"not found (HTTP 404) for {url}: check the configured base_url and resource names"
    if status == 429:
        return f"still rate-limited (HTTP 429) for {url} after every retry: try again later"
    if status >= 500:
        return f"server error (HTTP {status}) for {url} after every retry: {body}"
    return f"HTTP {status} for {url}: {body}"


class GuardedSession(requests.Session):
    """A session that refuses, before sending anything, a redirect to an origin not allowed.

    It reads the proxy and CA settings from the environment once per origin and request shape,
    not for every page: requests walks the whole environment twice a request for them, 7 % of
    the client's CPU on the pretix order feed (a client lives for one stream run)."""

    origins: Origins

    def __init__(self) -> None:
        super().__init__()
        self._environment_settings: dict[tuple, dict[str, Any]] = {}

    def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
        self.origins.check(prepared_request.url, "a redirect")
        super().rebuild_auth(prepared_request, response)

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        parts = urlsplit(str(url))
        key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert)
        settings = self._environment_settings.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment_settings[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}
