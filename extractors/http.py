"""The one HTTP layer every extractor uses: timeouts, retries honouring Retry-After, redaction."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from extractors import __version__

log = logging.getLogger(__name__)

RETRIABLE_STATUSES = (429, 500, 502, 503, 504)
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


class NotJsonError(SourceError):
    """A success status whose body does not parse: a transport fault (a cut or a proxy's page), retried."""


def _fingerprint(page: list[dict]) -> str:
    return hashlib.sha256(json.dumps(page, sort_keys=True, default=str).encode()).hexdigest()


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove credentials from a message before it reaches a log or an exception."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_LITERAL_SECRET:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


class ApiClient:
    """A requests session for one source instance: auth header, timeouts, urllib3 retries."""

    def __init__(
        self,
        source_name: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_factor: float = 0.5,
    ) -> None:
        self.source_name = source_name
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self._secrets = secrets
        retry = Retry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            backoff_factor=backoff_factor,
            backoff_jitter=0.25,
            status_forcelist=RETRIABLE_STATUSES,
            allowed_methods=frozenset({"GET", "POST"}),  # our POSTs are read-only RPC calls
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": f"engage-pipeline/{__version__}", **(headers or {})})
        self.requests_made = 0
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        # urllib3 retries seen on answers, unparseable bodies asked again, repeated pages asked again
        self.retries_made = 0

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path.lstrip("/")

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON document; raise SourceError (redacted, naming the source) on failure."""
        return self._json("GET", path, params=params)

    def post_json(self, path: str, payload: Any) -> Any:
        """POST a JSON body (read-only RPC calls such as LimeSurvey's) and return the JSON answer."""
        return self._json("POST", path, json=payload)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, as urllib3's Retry computes it for the other faults."""
        return min(self.backoff_factor * 2**attempt, 60.0) * random.uniform(1.0, 1.25)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """One JSON call; a 2xx body that does not parse is asked again, up to max_retries times.

        urllib3 retries statuses and connection faults, but never looks at a body: a truncated or
        non-JSON 200 (a cut connection, a proxy's error page) reaches us, and for these read-only
        APIs it is a transient transport fault like the others.
        """
        for attempt in range(self.max_retries + 1):
            try:
                return self._json_once(method, path, **kwargs)
            except NotJsonError as exc:
                if attempt >= self.max_retries:
                    raise NotJsonError(f"{exc} (after {attempt + 1} attempts)") from None
                log.warning("%s; asking again", exc)
                self.retries_made += 1
                time.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _json_once(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.url(path)
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise SourceError(self._redact(f"{self.source_name}: request to {url} failed: {exc}")) from None
        finally:
            self.requests_made += 1
        history = getattr(getattr(response.raw, "retries", None), "history", None)
        self.retries_made += len(history or ())
        if response.status_code in (401, 403):
            raise SourceError(
                f"{self.source_name}: authentication refused (HTTP {response.status_code}) for "
                f"{self._redact(response.url)}: check the credentials in the configured environment variables"
            )
        if response.status_code >= 400:
            body = self._redact(response.text[:300])
            raise SourceError(
                f"{self.source_name}: HTTP {response.status_code} for {self._redact(response.url)}: {body}"
            )
        try:
            return response.json()
        except ValueError:
            raise NotJsonError(
                f"{self.source_name}: response from {self._redact(response.url)} is not JSON"
            ) from None

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[list[dict]]:
        """Follow `next` links of a count/next/previous/results list; stop on empty or repeated pages."""
        url: str | None = self.url(path)
        query: Mapping[str, Any] | None = params
        seen_urls: set[str] = set()
        previous_fingerprint: str | None = None
        while url:
            if url in seen_urls:
                log.warning("%s: pagination loops back to %s; stopping", self.source_name, self._redact(url))
                return
            seen_urls.add(url)
            payload = self.get_json(url, params=query)
            if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
                raise SourceError(f"{self.source_name}: {self._redact(url)} is not a paginated list")
            page = payload["results"]
            if not page:
                return
            # Fingerprint before yielding: consumers may change records in place (pseudonymisation).
            fingerprint = _fingerprint(page)
            if fingerprint == previous_fingerprint:
                # A repeat may be transient (a stale cache, a flaky proxy): ask again before concluding.
                payload = self._refetch_repeated(url, query, fingerprint) or payload
                page = payload["results"]
                if not page:
                    return
                fingerprint = _fingerprint(page)
            if fingerprint == previous_fingerprint:
                log.warning(
                    "%s: page at %s repeats the previous one; stopping", self.source_name, self._redact(url)
                )
                return
            previous_fingerprint = fingerprint
            yield page
            url, query = payload.get("next"), None  # `next` already carries the query

    def _refetch_repeated(self, url: str, query: Mapping[str, Any] | None, repeated: str) -> dict | None:
        """Ask a page that repeated the previous one again (up to max_retries times, with backoff).

        Returns the first answer that differs from the repeat, or None if the source keeps repeating.
        """
        for attempt in range(self.max_retries):
            log.warning(
                "%s: page at %s repeats the previous one; asking again", self.source_name, self._redact(url)
            )
            self.retries_made += 1
            time.sleep(self._backoff(attempt))
            payload = self.get_json(url, params=query)
            if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
                raise SourceError(f"{self.source_name}: {self._redact(url)} is not a paginated list")
            if not payload["results"] or _fingerprint(payload["results"]) != repeated:
                return payload
        return None

    def close(self) -> None:
        self.session.close()

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        timeout=source.http.timeout_seconds,
        max_retries=source.http.max_retries,
        backoff_factor=source.http.backoff_factor,
    )
