"""The one HTTP layer every extractor uses: timeouts, retries honouring Retry-After, redaction."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from extractors import __version__

log = logging.getLogger(__name__)

RETRIABLE_STATUSES = (429, 500, 502, 503, 504)
# Replacing a very short "secret" literally would garble every message (a token "x" hides each x);
# such values are still caught by the header and query-string patterns below.
MIN_LITERAL_SECRET = 6
_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(token|bearer|basic)?\s*[^\s'\",}]+"),
    re.compile(r"(?i)((?:token|api_key|apikey|password|secret|sessionkey)=)[^&\s]+"),
]


class SourceError(Exception):
    """A partner system answered in a way the pipeline cannot use; the message names the source."""


def _fingerprint(page: list[dict]) -> str:
    return hashlib.sha256(json.dumps(page, sort_keys=True, default=str).encode()).hexdigest()


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove credentials from a message before it reaches a log or an exception."""
    for secret in secrets:
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

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path.lstrip("/")

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON document; raise SourceError (redacted, naming the source) on failure."""
        return self._json("GET", path, params=params)

    def post_json(self, path: str, payload: Any) -> Any:
        """POST a JSON body (read-only RPC calls such as LimeSurvey's) and return the JSON answer."""
        return self._json("POST", path, json=payload)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.url(path)
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise SourceError(self._redact(f"{self.source_name}: request to {url} failed: {exc}")) from None
        finally:
            self.requests_made += 1
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
            raise SourceError(
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
                log.warning(
                    "%s: page at %s repeats the previous one; stopping", self.source_name, self._redact(url)
                )
                return
            previous_fingerprint = fingerprint
            yield page
            url, query = payload.get("next"), None  # `next` already carries the query

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
