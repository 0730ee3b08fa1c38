"""The simulated KoboToolbox API v2 (read endpoints) and its test-control endpoint.

Read routes live under ``/kobo/api/v2/`` (so a source's ``base_url`` is ``http://host:port/kobo/``)
and need ``Authorization: Token <key>``:

* ``GET assets/`` — limit/offset pagination (default limit 100), ``q=asset_type:<type>``;
* ``GET assets/{uid}/`` — one asset with its ``content`` and ``deployed_versions``;
* ``GET assets/{uid}/data/`` — submissions: ``start``/``limit`` pagination (default and maximum
  limit 30,000, as KoboToolbox's DataPagination), ``query`` (a MongoDB-style JSON filter:
  equality and ``$gt``/``$gte``/``$lt``/``$lte``/``$eq``/``$ne``/``$in``/``$nin``/``$exists``,
  ``$and``/``$or``; values compare like MongoDB, strings with strings, so ``_submission_time``
  bounds must be written as KoboToolbox writes it, UTC without a zone), ``sort`` (JSON, e.g.
  ``{"_submission_time": 1}``; by ``_id`` otherwise). ``next``/``previous`` links keep every
  other parameter (``format``, ``query``, ``sort``).

Control route (loopback clients only, no token): ``POST /_sim/kobo/assets/{uid}/submissions``
with a JSON object of answers (question paths -> values) adds a submission received now, with
all the metadata the server adds. The server clock never goes backwards: a new submission is
received at the later of the wall clock and one second after the latest submission.
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.http_app import HttpError, Request, Response, Router
from simulator.kobo_api_assets import render_asset
from simulator.kobo_api_paging import limit_offset_page
from simulator.kobo_api_query import query_submissions
from simulator.kobo_model import KoboAsset, KoboDataset, render_submission

DEMO_KOBO_TOKEN = "demo-kobo-token"
PREFIX = "/kobo"
API_PREFIX = f"{PREFIX}/api/v2"
CONTROL_PREFIX = "/_sim/kobo"
ASSET_PAGE_LIMIT = 100
CHALLENGE = {"WWW-Authenticate": "Token"}
SUBMISSION_LIST_LIMIT = 30_000  # KoboToolbox's DataPagination: default and maximum limit


class KoboStore:
    """The server's assets and submissions plus the lock that makes control mutations thread-safe."""

    def __init__(self, dataset: KoboDataset) -> None:
        self.lock = threading.RLock()
        self.dataset = dataset
        self.next_id = dataset.next_id

    def asset(self, uid: str) -> KoboAsset:
        asset = self.dataset.asset(uid)
        if asset is None:
            raise HttpError(404, "Not found.")
        return asset

    def add_submission(self, asset: KoboAsset, answers: dict[str, Any]) -> dict[str, Any]:
        times = (s["_submission_time"] for a in self.dataset.assets for s in a.submissions)
        latest = datetime.fromisoformat(max(times, default="0001-01-01T00:00:00")).replace(tzinfo=UTC)
        now = datetime.now(UTC).replace(microsecond=0)
        record = render_submission(
            asset,
            asset.current,
            answers,
            submission_id=self.next_id,
            received_at=max(now, latest + timedelta(seconds=1)),
            instance_uuid=str(uuid.uuid4()),
        )
        self.next_id += 1
        asset.submissions.append(record)
        return record


_SEARCH = re.compile(r"^asset_type:(\w+)$")


def build_router(store: KoboStore, token: str = DEMO_KOBO_TOKEN) -> Router:
    """Routes of the simulated KoboToolbox, bound to ``store``."""
    router = Router()

    def authorised(handler):
        def wrapper(request: Request) -> Any:
            header = request.headers.get("authorization", "").strip()
            if not header:
                raise HttpError(401, "Authentication credentials were not provided.", CHALLENGE)
            if header != f"Token {token}":
                raise HttpError(401, "Invalid token.", CHALLENGE)
            if request.arg("format", "json") != "json":
                raise HttpError(404, "Not found.")
            with store.lock:
                return handler(request)

        return wrapper

    def api_url(request: Request) -> str:
        return f"http://{request.headers.get('host', 'localhost')}{API_PREFIX}"

    @router.route("GET", f"{API_PREFIX}/assets/")
    @authorised
    def list_assets(request: Request) -> Any:
        assets = sorted(store.dataset.assets, key=lambda a: a.date_modified, reverse=True)
        search = request.arg("q")
        if search:
            match = _SEARCH.match(search.strip())
            if not match:
                raise HttpError(400, "q: the simulator understands asset_type:<type> only.")
            assets = [a for a in assets if a.asset_type == match.group(1)]
        base = api_url(request)
        return limit_offset_page(
            request,
            assets,
            lambda a: render_asset(a, base),
            offset_param="offset",
            default_limit=ASSET_PAGE_LIMIT,
        )

    @router.route("GET", f"{API_PREFIX}/assets/{{uid}}/")
    @authorised
    def get_asset(request: Request) -> Any:
        return render_asset(store.asset(request.params["uid"]), api_url(request), detail=True)

    @router.route("GET", f"{API_PREFIX}/assets/{{uid}}/data/")
    @authorised
    def list_data(request: Request) -> Any:
        asset = store.asset(request.params["uid"])
        if not asset.has_deployment:
            raise HttpError(404, "The specified asset has not been deployed")
        return limit_offset_page(
            request,
            query_submissions(request, asset.submissions),
            offset_param="start",
            default_limit=SUBMISSION_LIST_LIMIT,
            max_limit=SUBMISSION_LIST_LIMIT,
        )

    @router.route("POST", f"{CONTROL_PREFIX}/assets/{{uid}}/submissions")
    def control_submit(request: Request) -> Any:
        if not request.is_loopback:
            raise HttpError(403, "The control API only answers loopback clients.")
        body = request.json()
        if not isinstance(body, dict) or not body:
            raise HttpError(400, "Expected a JSON object of answers (question path -> value).")
        if any(not isinstance(k, str) or k.startswith("_") or k.startswith("meta/") for k in body):
            raise HttpError(400, "Answers only: the server adds the metadata (_... and meta/... keys).")
        with store.lock:
            asset = store.asset(request.params["uid"])
            if not asset.has_deployment:
                raise HttpError(400, "The specified asset has not been deployed")
            return Response(201, store.add_submission(asset, body))

    return router
