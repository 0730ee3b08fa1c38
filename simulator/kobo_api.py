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

import hashlib
import json
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.http_app import HttpError, Request, Response, Router
from simulator.kobo_data import (
    CHOICE_LISTS,
    FormVersion,
    KoboAsset,
    KoboDataset,
    Question,
    kobo_uid,
    render_submission,
)

DEMO_KOBO_TOKEN = "demo-kobo-token"
PREFIX = "/kobo"
API_PREFIX = f"{PREFIX}/api/v2"
CONTROL_PREFIX = "/_sim/kobo"
PUBLIC_HOST = "https://kf.example.org"  # the (fake) public server named in asset links
ENKETO_HOST = "https://ee.example.org"
ASSET_PAGE_LIMIT = 100
CHALLENGE = {"WWW-Authenticate": "Token"}
SUBMISSION_LIST_LIMIT = 30_000  # KoboToolbox's DataPagination: default and maximum limit


def _stamp(moment: datetime) -> str:
    """KPI's timestamps on assets: UTC with microseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _content_hash(version: FormVersion) -> str:
    return hashlib.sha1(version.uid.encode(), usedforsecurity=False).hexdigest()


def _positive_int(value: str | None, *, default: int, strict: bool, cutoff: int | None = None) -> int:
    """DRF's parsing of limit/offset parameters: invalid values fall back to the default."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    if number < 0 or (strict and number == 0):
        return default
    return min(number, cutoff) if cutoff else number


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


# -- rendering assets --------------------------------------------------------------------------
def _content(version: FormVersion) -> dict[str, Any]:
    """The form definition (XLSForm as JSON) as an asset's ``content`` holds it."""
    rows: list[dict[str, Any]] = [
        {"name": "start", "type": "start", "$kuid": kobo_uid("k", version.uid, "start"), "$xpath": "start"},
        {"name": "end", "type": "end", "$kuid": kobo_uid("k", version.uid, "end"), "$xpath": "end"},
    ]
    open_group: str | None = None

    def close() -> None:
        if open_group is not None:
            rows.append({"type": "end_group", "$kuid": kobo_uid("k", version.uid, "end", open_group)})

    used_lists: list[str] = []

    def add(question: Question) -> None:
        rows.append(_question_row(version, question))
        if question.choice_list and question.choice_list not in used_lists:
            used_lists.append(question.choice_list)

    for question in version.questions:
        group = question.path.rpartition("/")[0]
        if group != open_group:
            close()
            open_group = group
            rows.append(_group_row(version, "begin_group", group))
        add(question)
    close()
    if version.repeat:
        rows.append(_group_row(version, "begin_repeat", version.repeat))
        for question in version.repeat_questions:
            add(question)
        rows.append({"type": "end_repeat", "$kuid": kobo_uid("k", version.uid, "end", version.repeat)})
    choices = [
        {"name": name, "$kuid": kobo_uid("k", list_name, name), "label": [label], "list_name": list_name}
        for list_name in used_lists
        for name, label in CHOICE_LISTS[list_name]
    ]
    return {
        "schema": "1",
        "survey": rows,
        "choices": choices,
        "settings": {"default_language": "English (en)"},
        "translated": ["label"],
        "translations": ["English (en)"],
    }


def _group_row(version: FormVersion, kind: str, path: str) -> dict[str, Any]:
    return {
        "name": path.rpartition("/")[2],
        "type": kind,
        "$kuid": kobo_uid("k", version.uid, path),
        "label": [path.replace("_", " ").capitalize()],
        "$xpath": path,
    }


def _question_row(version: FormVersion, question: Question) -> dict[str, Any]:
    base, _, list_name = question.type.partition(" ")
    row: dict[str, Any] = {
        "name": question.path.rpartition("/")[2],
        "type": base,
        "$kuid": kobo_uid("k", version.uid, question.path),
        "label": [question.label],
        "$xpath": question.path,
        "required": question.required,
    }
    if list_name:
        row["select_from_list_name"] = list_name
    return row


def render_asset(asset: KoboAsset, api_url: str, *, detail: bool = False) -> dict[str, Any]:
    """An asset as ``GET assets/`` lists it; ``detail`` adds what ``GET assets/{uid}/`` shows."""
    url = f"{api_url}/assets/{asset.uid}/"
    deployed = asset.has_deployment
    record: dict[str, Any] = {
        "url": f"{url}?format=json",
        "date_modified": _stamp(asset.date_modified),
        "date_created": _stamp(asset.date_created),
        "owner": f"{api_url}/users/{asset.owner}/?format=json",
        "summary": {
            "geo": False,
            "labels": [q.label for q in asset.current.questions[:5]],
            "columns": ["name", "type", "label", "required", "select_from_list_name"],
            "languages": ["English (en)"],
            "row_count": len(asset.current.questions) + len(asset.current.repeat_questions),
            "default_translation": "English (en)",
        },
        "owner__username": asset.owner,
        "parent": None,
        "uid": asset.uid,
        "tag_string": "",
        "settings": {"sector": {"label": "Public Administration", "value": "Public Administration"}},
        "kind": "asset",
        "name": asset.name,
        "asset_type": asset.asset_type,
        "version_id": asset.current.uid,
        "has_deployment": deployed,
        "deployed_version_id": asset.current.uid if deployed else None,
        "deployment__identifier": f"{PUBLIC_HOST.replace('kf.', 'kc.')}/{asset.owner}/forms/{asset.uid}"
        if deployed
        else None,
        "deployment__active": deployed,
        "deployment__submission_count": len(asset.submissions),
        "permissions": [
            {
                "url": f"{url}permission-assignments/{kobo_uid('p', asset.uid, codename)}/?format=json",
                "user": f"{api_url}/users/{asset.owner}/?format=json",
                "permission": f"{api_url}/permissions/{codename}/?format=json",
                "label": label,
            }
            for codename, label in (("view_asset", "View form"), ("view_submissions", "View submissions"))
        ],
        "export_settings": [],
        "downloads": [
            {"format": "xls", "url": f"{url}?format=json.xls"},
            {"format": "xml", "url": f"{url}?format=json.xml"},
        ],
        "data": f"{url}data/?format=json",
        "subscribers_count": 0,
        "status": "private",
        "access_types": None,
        "children": {"count": 0},
        "data_sharing": {},
    }
    if detail:
        versions = asset.versions if deployed else []
        record.update(
            {
                "version__content_hash": _content_hash(asset.current),
                "version_count": len(asset.versions),
                "deployed_versions": {
                    "count": len(versions),
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "uid": version.uid,
                            "url": f"{url}versions/{version.uid}/?format=json",
                            "content_hash": _content_hash(version),
                            "date_deployed": _stamp(version.deployed_at),
                            "date_modified": _stamp(version.deployed_at),
                        }
                        for version in reversed(versions)  # newest first
                    ],
                },
                "deployment__links": {
                    "url": f"{ENKETO_HOST}/{asset.uid[:8]}",
                    "offline_url": f"{ENKETO_HOST}/x/{asset.uid[:8]}",
                    "preview_url": f"{ENKETO_HOST}/preview/{asset.uid[:8]}",
                }
                if deployed
                else {},
                "content": _content(asset.current),
            }
        )
    return record


# -- querying submissions ----------------------------------------------------------------------
_COMPARISONS = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _comparable(a: Any, b: Any) -> bool:
    """MongoDB compares strings with strings and numbers with numbers, never across types."""
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, str) and isinstance(b, str)) or (isinstance(a, numbers) and isinstance(b, numbers))


def _condition(value: Any, present: bool, condition: Any) -> bool:
    if not (isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition)):
        return present and value == condition
    for operator, operand in condition.items():
        if operator in _COMPARISONS:
            if not (present and _comparable(value, operand) and _COMPARISONS[operator](value, operand)):
                return False
        elif operator == "$eq":
            if not (present and value == operand):
                return False
        elif operator == "$ne":
            if present and value == operand:
                return False
        elif operator in ("$in", "$nin"):
            if not isinstance(operand, list):
                raise HttpError(400, f"query: {operator} needs an array.")
            if (present and value in operand) != (operator == "$in"):
                return False
        elif operator == "$exists":
            if present != bool(operand):
                return False
        else:
            raise HttpError(400, f"query: unsupported operator {operator}.")
    return True


def matches(record: dict[str, Any], query: dict[str, Any]) -> bool:
    """Whether a submission satisfies a MongoDB-style filter (the subset documented above)."""
    for key, condition in query.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list) or not all(isinstance(c, dict) for c in condition):
                raise HttpError(400, f"query: {key} needs an array of objects.")
            results = (matches(record, c) for c in condition)
            if not (all(results) if key == "$and" else any(results)):
                return False
        elif key.startswith("$"):
            raise HttpError(400, f"query: unsupported operator {key}.")
        elif not _condition(record.get(key), key in record, condition):
            return False
    return True


def _json_param(request: Request, name: str) -> Any:
    raw = request.arg(name)
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise HttpError(400, f"{name}: Value must be valid JSON.") from None
    if not isinstance(value, dict):
        raise HttpError(400, f"{name}: Value must be a JSON object.")
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    """MongoDB's order across types: missing/null, numbers, strings, then anything else."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True))


def query_submissions(request: Request, submissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    query = _json_param(request, "query")
    found = [s for s in submissions if matches(s, query)] if query else list(submissions)
    found.sort(key=lambda s: _sort_key(s.get("_id")))
    sort = _json_param(request, "sort") or {}
    for field, direction in reversed(list(sort.items())):  # stable sorts, last key first
        if direction not in (1, -1):
            raise HttpError(400, "sort: directions are 1 or -1.")
        found.sort(key=lambda s, f=field: _sort_key(s.get(f)), reverse=direction == -1)
    return found


def limit_offset_page(
    request: Request,
    items: list[Any],
    render: Any = lambda item: item,
    *,
    offset_param: str,
    default_limit: int,
    max_limit: int | None = None,
) -> dict[str, Any]:
    """DRF's LimitOffsetPagination: ``count``, absolute ``next``/``previous``, ``results``."""
    limit = _positive_int(request.arg("limit"), default=default_limit, strict=True, cutoff=max_limit)
    offset = _positive_int(request.arg(offset_param), default=0, strict=False)
    count = len(items)
    next_link = request.url(limit=limit, **{offset_param: offset + limit}) if offset + limit < count else None
    if offset <= 0:
        previous = None
    elif offset - limit <= 0:
        previous = request.url(limit=limit, **{offset_param: None})
    else:
        previous = request.url(limit=limit, **{offset_param: offset - limit})
    return {
        "count": count,
        "next": next_link,
        "previous": previous,
        "results": [render(item) for item in items[offset : offset + limit]],
    }


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
