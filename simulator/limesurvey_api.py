"""The simulated LimeSurvey RemoteControl 2 API (JSON-RPC) and its test-control endpoint.

One endpoint, ``POST /limesurvey/index.php/admin/remotecontrol``, body ``{"method", "params",
"id"}``, answer ``{"result", "error": null, "id"}``. As LimeSurvey 6.4.2 does (measured,
../shared/SOURCES.md): a refused call is HTTP 200 with a result ``{"status": "..."}``
("Invalid user name or password", "Invalid session key", "No permission" for an unknown survey,
"No Data, survey table does not exist." for an inactive one, "No Data, could not get max id."
for an active one without responses); ``export_responses`` returns base64 of the flat JSON export
``{"responses": [{"id": 12, ...}]}`` with integer ids and ``""`` for an unanswered question or an
incomplete response's ``submitdate``, and ``{"responses": []}`` for a window with no response in
it. A survey with a participant table (the follow-up) exports each response's ``token``. An
unknown method is HTTP 500 text/html, as PHP's error page.

Control (loopback only): ``POST /_sim/limesurvey/surveys/{sid}/responses`` adds a response
(``"_incomplete": true`` saves it unsubmitted);
``POST /_sim/limesurvey/surveys/{sid}/responses/{id}/complete`` completes a saved incomplete one
(resume: same id, ``submitdate`` set), as a respondent finishing later does.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from datetime import datetime
from typing import Any

from simulator.http_app import HttpError, Request, Response, Router
from simulator.limesurvey_data import LimeSurveyDataset, SimSurvey

DEMO_LIMESURVEY_USER = "demo"
DEMO_LIMESURVEY_PASSWORD = "demo-limesurvey-password"
ENDPOINT = "/limesurvey/index.php/admin/remotecontrol"
CONTROL_PREFIX = "/_sim/limesurvey"


class LimeSurveyStore:
    """The surveys, the open sessions and call counters; the lock guards mutations."""

    def __init__(self, dataset: LimeSurveyDataset, username: str, password: str) -> None:
        self.lock = threading.RLock()
        self.surveys = dataset.surveys
        self.username = username
        self.password = password
        self.sessions: set[str] = set()
        self.calls: dict[str, int] = {}

    def survey(self, sid: Any) -> SimSurvey | None:
        try:
            return self.surveys.get(int(sid))
        except (TypeError, ValueError):
            return None


def _status(text: str) -> dict[str, str]:
    return {"status": text}


def _export(survey: SimSurvey, params: list[Any]) -> Any:
    (doc_type, _language, completion, _heading, _response_type, from_id, to_id, fields) = (
        params + [None] * 8
    )[:8]
    if doc_type != "json":
        return _status("Invalid extension")  # the demo serves only the JSON export
    if survey.active != "Y":
        return _status("No Data, survey table does not exist.")
    if not survey.responses:
        return _status("No Data, could not get max id.")
    completion = completion or "all"
    selected = []
    for response in survey.responses:
        if from_id not in (None, "") and response["id"] < int(from_id):
            continue
        if to_id not in (None, "") and response["id"] > int(to_id):
            continue
        if completion == "complete" and response["submitdate"] is None:
            continue
        if completion == "incomplete" and response["submitdate"] is not None:
            continue
        selected.append(response)
    rendered = [survey.export_row(r) for r in selected]
    if fields:
        wanted = {"id", *fields}
        rendered = [{k: v for k, v in r.items() if k in wanted} for r in rendered]
    rows: list[Any] = rendered
    if survey.shape == "keyed":  # older versions (not 6.4.2): each response under its id, strings
        rows = [{str(r["id"]): {k: str(v) for k, v in r.items()}} for r in rendered]
    document = json.dumps({"responses": rows}, ensure_ascii=False).encode("utf-8")
    return base64.b64encode(document).decode("ascii")


def build_router(store: LimeSurveyStore) -> Router:
    router = Router()

    @router.route("POST", ENDPOINT)
    def remotecontrol(request: Request) -> Any:
        body = request.json()
        if not isinstance(body, dict) or "method" not in body:
            return {"result": None, "error": "Invalid request", "id": None}
        method, params, call_id = body["method"], body.get("params") or [], body.get("id")
        if not isinstance(params, list):
            params = list(params.values()) if isinstance(params, dict) else [params]
        with store.lock:
            store.calls[method] = store.calls.get(method, 0) + 1
            result = _call(store, method, params)
        if result is _UNKNOWN:  # PHP's error page, not a JSON-RPC error
            return Response(500, b"<html><body><h1>Internal Server Error</h1></body></html>")
        return {"result": result, "error": None, "id": call_id}

    @router.route("POST", CONTROL_PREFIX + "/surveys/{sid}/responses/{rid}/complete")
    def complete_response(request: Request) -> Any:
        if not request.is_loopback:
            raise HttpError(403, "The control API only answers loopback clients.")
        with store.lock:
            survey = store.survey(request.params["sid"])
            found = [r for r in survey.responses if str(r["id"]) == request.params["rid"]] if survey else []
            if not found:
                raise HttpError(404, "Not found.")
            response = found[0]
            now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            response.update(submitdate=now, datestamp=now, lastpage=survey.pages)
        return survey.export_row(response)

    @router.route("POST", CONTROL_PREFIX + "/surveys/{sid}/responses")
    def add_response(request: Request) -> Any:
        if not request.is_loopback:
            raise HttpError(403, "The control API only answers loopback clients.")
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, "Expected a JSON object of answers by question code.")
        with store.lock:
            survey = store.survey(request.params["sid"])
            if survey is None:
                raise HttpError(404, "Not found.")
            incomplete = bool(body.pop("_incomplete", False))  # saved on the first page, not submitted
            unknown = set(body) - set(survey.questions)
            if unknown:
                raise HttpError(400, f"Unknown question codes: {sorted(unknown)}")
            now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            response = {
                "id": max((r["id"] for r in survey.responses), default=0) + 1,
                "submitdate": None if incomplete else now,
                "lastpage": 0 if incomplete else survey.pages,
                "startlanguage": survey.language,
                "seed": str(secrets.randbelow(900_000_000) + 10_000_000),
                "startdate": now,
                "datestamp": now,
                **{code: body.get(code) for code in survey.questions},
            }
            survey.responses.append(response)
        return survey.export_row(response)

    return router


_UNKNOWN = object()


def _call(store: LimeSurveyStore, method: str, params: list[Any]) -> Any:
    if method == "get_session_key":
        username, password = [*params, None, None][:2]
        if username != store.username or password != store.password:
            return _status("Invalid user name or password")
        key = secrets.token_hex(16)
        store.sessions.add(key)
        return key
    if method not in ("release_session_key", "list_surveys", "export_responses"):
        return _UNKNOWN
    key = params[0] if params else None
    if method == "release_session_key":  # releasing an already released key answers "OK" too
        store.sessions.discard(key)
        return "OK"
    if key not in store.sessions:
        return _status("Invalid session key")
    if method == "list_surveys":
        return [s.listing() for s in store.surveys.values()]
    survey = store.survey(params[1] if len(params) > 1 else None)
    if survey is None:
        return _status("No permission")  # 6.4.2 says so for an unknown id, even to the superadmin
    return _export(survey, list(params[2:]))
