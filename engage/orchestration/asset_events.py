"""What happens after a partner push landed a batch: the "on landed" hooks.

A hook is any callable taking the configuration and the batches a push landed. Two ship here:

* `AirflowAssetEvents` (the default in production): for each landed stream, raise an asset event on
  `engage://landing/<source>/<stream>` through Airflow 3's public REST API, so `engage_warehouse`
  (scheduled on those assets) loads, builds and publishes within minutes. The asset id is looked up
  by uri (`GET /api/v2/assets?uri_pattern=...`, a substring search: the exact uri is picked from the
  answer), then `POST /api/v2/assets/events` with `{"asset_id": ..., "extra": {...}}`.
  Authentication: a bearer token (JWT) from the environment variable `webhooks.airflow_token_env`;
  or, when that is empty, a token fetched from the api-server's `POST /auth/token` with the
  username / password in `webhooks.airflow_username_env` / `airflow_password_env`.
* `refresh_in_process`: load -> dbt build -> publish right here, the same functions as
  `engage run` (tests, and the CLI on a machine without Airflow).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from engage.config import PipelineConfig
from extractors import __version__
from extractors.http import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandedBatch:
    source_instance: str
    stream: str
    batch_id: str
    records: int
    via: str  # e.g. "webhook:pretix.event.order.placed"

    @property
    def asset_uri(self) -> str:
        # engage.orchestration.dag_factory.landed_asset gives the stream (kept free of Airflow imports).
        return f"engage://landing/{self.source_instance}/{self.stream}"


OnLanded = Callable[[PipelineConfig, list[LandedBatch]], None]


class AssetEventError(Exception):
    """Airflow did not accept the asset event; the message names the asset and the status."""


class AirflowAssetEvents:
    """Raise one asset event per landed stream through Airflow's REST API (`/api/v2`)."""

    def __init__(
        self,
        api_url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.api_url = api_url.rstrip("/") + "/"  # the api-server root, e.g. http://airflow-apiserver:8080/
        self._token = token or None
        self._login = (username, password) if username and password else None
        if self._token is None and self._login is None:
            raise AssetEventError(
                "no Airflow API credentials: set the token variable (webhooks.airflow_token_env) "
                "or the username/password variables"
            )
        self.timeout = timeout
        self._asset_ids: dict[str, int] = {}
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": f"engage-webhooks/{__version__}"})
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: PipelineConfig) -> AirflowAssetEvents:
        settings = config.webhooks
        if settings.airflow_api_url is None:
            raise AssetEventError("webhooks.airflow_api_url is not set in the configuration")

        def env(name: str | None) -> str | None:
            return os.environ.get(name) or None if name else None

        return cls(
            str(settings.airflow_api_url),
            token=env(settings.airflow_token_env),
            username=env(settings.airflow_username_env),
            password=env(settings.airflow_password_env),
        )

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._token, *(self._login or ())) if s)

    def _bearer(self, refresh: bool = False) -> str:
        if self._token and not (refresh and self._login):
            return self._token
        assert self._login is not None
        response = self._session.post(
            self.api_url + "auth/token",
            json={"username": self._login[0], "password": self._login[1]},
            timeout=self.timeout,
        )
        if response.status_code not in (200, 201):
            raise AssetEventError(f"Airflow refused the login (HTTP {response.status_code})")
        self._token = response.json()["access_token"]
        return self._token

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.api_url + path
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self._bearer(refresh=attempt == 1)}"}
            try:
                response = self._session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                raise AssetEventError(redact(f"{method} {url} failed: {exc}", self._secrets())) from None
            if response.status_code == 401 and attempt == 0 and self._login:
                continue  # an expired JWT: log in again once
            return response
        return response

    def asset_id(self, uri: str) -> int:
        """The id Airflow gave the asset with exactly this uri (cached; assets keep their id)."""
        if uri in self._asset_ids:
            return self._asset_ids[uri]
        response = self._request("GET", "api/v2/assets", params={"uri_pattern": uri, "limit": 100})
        if response.status_code != 200:
            raise AssetEventError(f"looking up asset {uri}: HTTP {response.status_code}")
        matches = [a["id"] for a in response.json().get("assets", []) if a.get("uri") == uri]
        if not matches:
            raise AssetEventError(
                f"Airflow knows no asset {uri}: is the source configured and the engage_extract DAG parsed?"
            )
        self._asset_ids[uri] = matches[0]
        return matches[0]

    def raise_event(self, batch: LandedBatch) -> dict[str, Any]:
        asset_id = self.asset_id(batch.asset_uri)
        body = {
            "asset_id": asset_id,
            "extra": {
                "batch_id": batch.batch_id,
                "records": batch.records,
                "source_instance": batch.source_instance,
                "stream": batch.stream,
                "via": batch.via,
            },
        }
        response = self._request("POST", "api/v2/assets/events", json=body)
        if response.status_code not in (200, 201):
            raise AssetEventError(
                f"asset event on {batch.asset_uri} refused: HTTP {response.status_code} "
                f"{redact(response.text[:200], self._secrets())}"
            )
        return response.json()

    def __call__(self, config: PipelineConfig, batches: list[LandedBatch]) -> None:
        with self._lock:  # one request sequence at a time: the id cache and a token refresh
            for batch in batches:
                self.raise_event(batch)
                log.info("asset event raised on %s for batch %s", batch.asset_uri, batch.batch_id)


_REFRESH_LOCK = threading.Lock()


def refresh_in_process(config: PipelineConfig, batches: list[LandedBatch]) -> None:
    """Load what landed, dbt build, publish: what `engage_warehouse` does, in this process."""
    from engage.orchestration.alerts import Alert, notifiers_for, send_alert
    from engage.warehouse.dbt import build
    from engage.warehouse.loader import load_pending
    from engage.warehouse.publish import publish
    from engage.warehouse.publish_gate import PublishBlocked
    from engage.warehouse.refresh_state import has_unpublished_loads

    with _REFRESH_LOCK:  # concurrent pushes refresh one after the other (the writer slot also waits)
        if not load_pending(config) and not has_unpublished_loads(config):
            return  # an earlier refresh already took these batches in
        build(config)
        try:
            publish(config)
        except PublishBlocked as exc:
            alert = Alert(
                "engage-webhooks", "publish", "all", "all", str(exc), "in-process refresh after a push"
            )
            send_alert(alert, notifiers_for(config.alerts))
            raise


class BackgroundRefresh:
    """Runs a hook on one worker thread, coalescing pushes that arrive while it runs.

    The receiver answers 202 at once; a burst of pushes costs one refresh after the running one.
    """

    def __init__(self, hook: OnLanded) -> None:
        self.hook = hook
        self._pending: list[LandedBatch] = []
        self._config: PipelineConfig | None = None
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="engage-webhook-refresh", daemon=True)
        self._thread.start()

    def __call__(self, config: PipelineConfig, batches: list[LandedBatch]) -> None:
        with self._wake:
            self._config = config
            self._pending.extend(batches)
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batches, self._pending = self._pending, []
                config = self._config
            try:
                assert config is not None
                self.hook(config, batches)
            except Exception:  # the batches stay landed: the next refresh or daily run loads them
                log.exception("refresh after a push failed")


def default_hook(config: PipelineConfig) -> OnLanded:
    """The Airflow asset event when `webhooks.airflow_api_url` is set, else a background refresh."""
    if config.webhooks.airflow_api_url is not None:
        return AirflowAssetEvents.from_config(config)
    return BackgroundRefresh(refresh_in_process)
