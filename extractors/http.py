"""The one HTTP layer every extractor uses: bounded waits, retries honouring Retry-After, redaction.

What it refuses and why is in `extractors.http_limits` and docs/reliability.md: links and redirects
to another origin (the token goes nowhere else), waits past their bounds, bodies past their size,
JSON that is not strict, and lists that do not add up to their own `count`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from extractors import __version__
from extractors.http_limits import (
    BodyRefused,
    BoundedRetry,
    BudgetExhausted,
    GuardedSession,
    OriginRefused,
    Origins,
    RetryAfterRefused,
    UntrustedJson,
    read_body,
    status_message,
    strict_json,
    without_query,
)
from extractors.source_config import HttpSettings
from extractors.streams import Tally

log = logging.getLogger(__name__)

RETRIABLE_STATUSES = (429, 500, 502, 503, 504)
MAX_REDIRECTS = 5
ERROR_BODY_LIMIT = 64 * 1024  # of an error answer, only the start reaches a message
PAGE_SLACK = 10  # pages a walk may take past twice what its first `count` implies
# Secrets of any length are replaced: a short token echoed in a message is still a leaked token
# (a garbled message is the lesser harm). Longest first, so a short secret inside a longer one
# cannot leave part of the longer one behind.
MIN_LITERAL_SECRET = 1
_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(token|bearer|basic)?\s*[^\s'\",}]+"),
    re.compile(r"(?i)((?:token|api_key|apikey|password|secret|sessionkey)=)[^&\s]+"),
]


class SourceError(Exception):
    """A partner system answered in a way the pipeline cannot use; the message names the source."""


class UntrustedResponse(SourceError):
    """An answer that cannot be used as it is (cut, garbled, foreign link): asked again, then fatal."""


class NotJsonError(UntrustedResponse):
    """A success status whose body is not strict JSON: a transport fault (a cut or a proxy's page)."""


def page_fingerprint(payload: Mapping[str, Any], body: bytes) -> str:
    """A list page's records, by the body bytes that carry them: a digest of the body with its own
    `next` and `previous` links read as null (a list that ignores its page parameter answers the
    same records under new links, or under none on its last page). Equal digests mean equal
    bodies outside the links, so equal records; hashing the bytes costs a fraction of
    re-serialising the records (issue 16)."""
    for key in ("next", "previous"):
        link = payload.get(key)
        if isinstance(link, str) and link:
            body = body.replace(json.dumps(link, ensure_ascii=False).encode(), b"null")
    return hashlib.sha256(body).hexdigest()


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove credentials from a message before it reaches a log or an exception."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_LITERAL_SECRET:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


class ApiClient:
    """A requests session for one source instance: auth header, bounded waits, urllib3 retries.

    `settings` (the source's `http` block) sets every bound; the keyword arguments override it.
    `stream` names the stream in messages (extract sets it). The time budget starts here: one
    client per stream run.
    """

    def __init__(
        self,
        source_name: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        settings: HttpSettings | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        backoff_factor: float | None = None,
    ) -> None:
        self.settings = settings = settings or HttpSettings()
        self.source_name = source_name
        self.stream = ""
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = settings.timeout_seconds if timeout is None else timeout
        self.max_retries = settings.max_retries if max_retries is None else max_retries
        self.backoff_factor = settings.backoff_factor if backoff_factor is None else backoff_factor
        self._secrets = secrets
        self._budget_ends = time.monotonic() + settings.stream_budget_seconds
        self.origins = Origins(self.base_url, (str(url) for url in settings.extra_origins))
        retry = BoundedRetry(
            total=self.max_retries,
            connect=self.max_retries,
            read=self.max_retries,
            status=self.max_retries,
            backoff_factor=self.backoff_factor,
            backoff_jitter=0.25,
            status_forcelist=RETRIABLE_STATUSES,
            allowed_methods=frozenset({"GET", "POST"}),  # our POSTs are read-only RPC calls
            respect_retry_after_header=True,
            raise_on_status=False,
            retry_after_cap=settings.max_retry_after_seconds,
            remaining=self.budget_left,
        )
        self.session = GuardedSession()
        self.session.origins = self.origins
        self.session.max_redirects = MAX_REDIRECTS
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": f"engage-pipeline/{__version__}", **(headers or {})})
        self.requests_made = 0
        self.pages_read = 0
        self.last_body = b""  # of the last answer parsed: the page fingerprint reads it
        # urllib3 retries seen on answers, unparseable bodies asked again, repeated pages asked again
        self.retries_made = 0

    @property
    def label(self) -> str:
        """Who is speaking in a message: the source, and the stream when one is set."""
        return f"{self.source_name}/{self.stream}" if self.stream else self.source_name

    def budget_left(self) -> float:
        return self._budget_ends - time.monotonic()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path.lstrip("/")

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON document; raise SourceError (redacted, naming the source) on failure."""
        return self._json("GET", path, params=params)

    def post_json(self, path: str, payload: Any) -> Any:
        """POST a JSON body (read-only RPC calls such as LimeSurvey's) and return the JSON answer."""
        return self._json("POST", path, json=payload)

    def get_list(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One page of a count/next/previous/results list, its `next` link checked for origin."""
        self._count_page(path)
        return self._json("GET", path, params=params, check=self._check_list)

    def _count_page(self, url: str) -> None:
        self.pages_read += 1
        if self.pages_read > self.settings.max_pages:
            raise SourceError(
                f"{self.label}: more than http.max_pages ({self.settings.max_pages:,}) pages in one run "
                f"(the last asked: {without_query(self.url(url))}); the source's links do not end"
            )

    def _check_list(self, payload: Any, url: str) -> None:
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise SourceError(f"{self.label}: {without_query(url)} is not a paginated list")
        next_link = payload.get("next")
        if next_link is not None and not isinstance(next_link, str):
            raise UntrustedResponse(f"{self.label}: {without_query(url)} has a `next` that is not a URL")
        if next_link:
            try:
                self.origins.check(self.url(next_link), "a `next` link")
            except OriginRefused as exc:
                raise UntrustedResponse(f"{self.label}: {exc} (in the page {without_query(url)})") from None

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, as urllib3's Retry computes it for the other faults."""
        return min(self.backoff_factor * 2**attempt, 60.0) * random.uniform(1.0, 1.25)

    def _json(
        self, method: str, path: str, check: Callable[[Any, str], None] | None = None, **kwargs: Any
    ) -> Any:
        """One JSON call; an answer that cannot be trusted is asked again, up to max_retries times.

        urllib3 retries statuses and connection faults, but never looks at a body: a truncated,
        non-JSON or foreign-linking 200 reaches us, and for these read-only APIs it is a transient
        fault like the others, until it has happened max_retries + 1 times.
        """
        for attempt in range(self.max_retries + 1):
            try:
                payload = self._json_once(method, path, **kwargs)
                if check is not None:
                    check(payload, self.url(path))
                return payload
            except UntrustedResponse as exc:
                if attempt >= self.max_retries:
                    raise type(exc)(f"{exc} (after {attempt + 1} attempts)") from None
                log.warning("%s; asking again", exc)
                self.retries_made += 1
                wait = self._backoff(attempt)
                if wait >= self.budget_left():
                    raise SourceError(f"{exc}; no time left in http.stream_budget_seconds") from None
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _json_once(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.url(path)
        shown = without_query(url)
        left = self.budget_left()
        if left <= 0:
            raise SourceError(
                f"{self.label}: the run took longer than http.stream_budget_seconds "
                f"({self.settings.stream_budget_seconds:g} s); stopped before {shown}"
            )
        try:
            self.origins.check(url, "a request")
        except OriginRefused as exc:
            raise SourceError(f"{self.label}: {exc}") from None
        wait = min(self.timeout, left)
        try:
            response = self.session.request(method, url, timeout=(wait, wait), stream=True, **kwargs)
        except OriginRefused as exc:
            raise UntrustedResponse(f"{self.label}: {exc} (from {shown})") from None
        except (RetryAfterRefused, BudgetExhausted) as exc:
            raise SourceError(f"{self.label}: {exc} ({shown})") from None
        except requests.TooManyRedirects:
            raise SourceError(f"{self.label}: more than {MAX_REDIRECTS} redirects from {shown}") from None
        except requests.RequestException as exc:
            raise SourceError(self._redact(f"{self.label}: request to {shown} failed: {exc}")) from None
        finally:
            self.requests_made += 1
        # From the headers to the last body byte; connect and the wait for headers are bounded by
        # the timeout, and urllib3's own retries (with their Retry-After waits) come before this.
        deadline = time.monotonic() + min(self.settings.response_deadline_seconds, self.budget_left())
        with response:
            history = getattr(getattr(response.raw, "retries", None), "history", None)
            self.retries_made += len(history or ())
            failed = response.status_code >= 400
            limit = ERROR_BODY_LIMIT if failed else self.settings.max_response_mib * 2**20
            try:
                body = read_body(response, deadline=deadline, read_timeout=wait, max_bytes=int(limit))
            except BodyRefused as exc:
                if response.status_code >= 400:
                    body = b""
                else:
                    error = UntrustedResponse if exc.retriable else SourceError
                    raise error(f"{self.label}: {exc} ({shown})") from None
            if response.status_code >= 400:
                text = self._redact(body[:300].decode("utf-8", "replace"))
                raise SourceError(f"{self.label}: {status_message(response.status_code, shown, text)}")
            self.last_body = body
            try:
                return strict_json(body, response.headers.get("Content-Type"))
            except UntrustedJson as exc:
                raise NotJsonError(f"{self.label}: response from {shown} is not JSON: {exc}") from None

    def paginate(
        self, path: str, params: Mapping[str, Any] | None = None, tally: Tally | None = None
    ) -> Iterator[list[dict]]:
        """Follow `next` links of a count/next/previous/results list; stop on empty or repeated pages.

        Bounded by the list's own `count` (a walk asking far more pages than it implies is refused)
        and checked against it at the end (`_reconcile`); `tally` adds both to the stream's figures.
        """
        url: str | None = self.url(path)
        query: Mapping[str, Any] | None = params
        first_url, first_query = url, params
        seen_urls: set[str] = set()
        previous_fingerprint: str | None = None
        count: int | None = None
        pages = received = 0
        page_bound = 0
        while url:
            if url in seen_urls:
                log.warning("%s: pagination loops back to %s; stopping", self.label, without_query(url))
                break
            seen_urls.add(url)
            pages += 1
            if page_bound and pages > page_bound:
                raise SourceError(
                    f"{self.label}: {without_query(first_url)}: more than {page_bound} pages for a list "
                    f"whose count is {count}: its `next` links do not end"
                )
            payload = self.get_list(url, params=query)
            if count is None:
                count = _count(payload)
                per_page = max(len(payload["results"]), 1)
                page_bound = 2 * -(-(count or 0) // per_page) + PAGE_SLACK if count is not None else 0
            page = payload["results"]
            if not page:
                break
            # By the bytes received, so consumers changing records in place (pseudonymisation) cannot
            # disturb it, and the records are not serialised again.
            fingerprint = page_fingerprint(payload, self.last_body)
            if fingerprint == previous_fingerprint:
                # A repeat may be transient (a stale cache, a flaky proxy): ask again before concluding.
                again = self._refetch_repeated(url, query, fingerprint)
                payload = again[0] if again else payload
                page = payload["results"]
                if not page:
                    break
                fingerprint = again[1] if again else fingerprint
            if fingerprint == previous_fingerprint:
                log.warning("%s: page %s repeats the previous one; stopping", self.label, without_query(url))
                break
            previous_fingerprint = fingerprint
            received += len(page)
            yield page
            url, query = payload.get("next"), None  # `next` already carries the query
        if count is not None:
            self._reconcile(first_url, first_query, count, received)
            if tally is not None:
                tally.add(count, received)

    def walk(
        self,
        path: str,
        params_for: Callable[[list[dict] | None], Mapping[str, Any]],
        *,
        fresh: Callable[[list[dict]], list[dict]] = lambda page: page,
        tally: Tally | None = None,
    ) -> Iterator[list[dict]]:
        """Page by the query itself (keyset): each request asks for what follows the last record.

        Page numbers and offsets shift when records change between two fetches (a record moving to
        the end slides the next one onto a page already read); a query for "after the last record
        received" does not. `params_for(None)` is the first query, `params_for(page)` the one after
        `page`; `fresh(page)` drops what the previous query already gave (an inclusive bound). A
        page whose records all sit on that bound is read on through its `next` link. The walk ends
        when a page holds all its query still counts, and is reconciled with the first `count`.
        """
        first = params_for(None)
        url, query = path, first
        count: int | None = None
        received = 0
        last_ends = ""
        while True:
            payload = self.get_list(url, params=query)
            page = payload["results"]
            remaining = _count(payload)
            count = remaining if count is None else count
            new = fresh(page)
            if new:
                # The ends of what is new, before consumers change records in place: the same
                # again means the source answered "what follows" with what it had already sent.
                ends = json.dumps([new[0], new[-1]], sort_keys=True, default=str)
                if ends == last_ends:
                    raise SourceError(
                        f"{self.label}: {without_query(url)} answered a query for what follows its last "
                        "records with those records again: the source ignores the query; stopping"
                    )
                last_ends = ends
                received += len(new)
                yield new
            if not page or not payload.get("next") or (remaining is not None and len(page) >= remaining):
                break
            url, query = (path, params_for(new)) if new else (payload["next"], None)
        if count is not None:
            self._reconcile(path, first, count, received)
            if tally is not None:
                tally.add(count, received)

    def _reconcile(self, url: str, query: Mapping[str, Any] | None, count: int, received: int) -> None:
        """Fewer records than the list's count: ask the count again (deletions), else fail."""
        if received >= count:
            return
        now = _count(self.get_list(url, params=query))
        if now is not None and received >= now:
            log.info("%s: %s counts %d records now, %d before", self.label, without_query(url), now, count)
            return
        raise SourceError(
            f"{self.label}: received {received:,} of the {now if now is not None else count:,} records "
            f"{without_query(url)} counts; stopping so that nothing is landed short"
        )

    def _refetch_repeated(
        self, url: str, query: Mapping[str, Any] | None, repeated: str
    ) -> tuple[dict, str] | None:
        """Ask a page that repeated the previous one again (up to max_retries times, with backoff).

        Returns the first answer that differs from the repeat (and its fingerprint), or None if the
        source keeps repeating.
        """
        for attempt in range(self.max_retries):
            log.warning("%s: page %s repeats the previous one; asking again", self.label, without_query(url))
            self.retries_made += 1
            time.sleep(self._backoff(attempt))
            payload = self.get_list(url, params=query)
            fingerprint = page_fingerprint(payload, self.last_body)
            if not payload["results"] or fingerprint != repeated:
                return payload, fingerprint
        return None

    def close(self) -> None:
        self.session.close()

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _count(payload: dict[str, Any]) -> int | None:
    """A list's `count`, when the source gives a usable one."""
    count = payload.get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None


def token_client(source_name: str, source: Any) -> ApiClient:
    """An ApiClient for APIs taking `Authorization: Token <token>` (pretix, KoboToolbox).

    `source` is a source configuration with `base_url`, `credentials.token_env` and `http`.
    """
    token = os.environ.get(source.credentials.token_env, "")
    if not token:
        raise SourceError(
            f"{source_name}: no API token: set the environment variable {source.credentials.token_env}"
        )
    return ApiClient(
        source_name,
        str(source.base_url),
        headers={"Authorization": f"Token {token}", "Accept": "application/json"},
        secrets=(token,),
        settings=source.http,
    )
