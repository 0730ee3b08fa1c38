"""LimeSurvey (RemoteControl 2, JSON-RPC): the survey list and the responses of each survey.

Every call is a POST of ``{"method", "params", "id"}`` to the one endpoint; LimeSurvey refuses a
call with HTTP 200 and a result ``{"status": "..."}``, which the helper turns into a SourceError
naming the source and the method, except the statuses that mean "nothing to export" (an empty
answer). One session key per client (one per extracted stream), obtained on the first call and
released by ``close()``, which the extraction calls in a ``finally`` even when a call failed.

Responses are incremental by response id, per survey (``_survey_id`` is added to each record).
A run first exports only the ids from the committed cursor on (``fields=["id"]``, cheap), then
exports the full responses in contiguous id windows of ``http.page_size`` ids, so pages stay
bounded and gaps left by deleted responses cost nothing. Ids only grow, so a response added during
the run lands in the next one; a window missing an id of the list is asked for its ids again: a
deleted response is noted, a response still there but left out fails the survey. The id list's
length is the source's count in the run's reconciliation. Both export shapes are read:
``[{"12": {...}}]`` (each response under its id, older versions) and ``[{"id": 12, ...}]`` (6.4.2,
measured).

As measured on 6.4.2 (../shared/SOURCES.md): an active survey without responses answers "No Data,
could not get max id.", an inactive one "No Data, survey table does not exist.", an empty id window
``{"responses": []}``. One survey's refusal is reported in the run's note (naming the survey and
the reason) and does not stop the other surveys from landing. A response saved incomplete keeps
its id when it is completed later, so a reader by id alone never sees the completion: each run
also re-reads the responses below the cursor completed since the last landed batch and started
within ``reread_incomplete_days``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from extractors.http import ApiClient, SourceError
from extractors.source_config import (
    DEFAULT_LIMESURVEY_DROPPED_CODES,
    DEFAULT_LIMESURVEY_PSEUDONYMISED_CODES,
    LimeSurveySource,
)
from extractors.streams import REREAD_FIELD, FetchContext, FieldRule, Page, Stream, fields

log = logging.getLogger(__name__)

SYSTEM = "limesurvey"
VERSION = "limesurvey-1"

# Statuses that mean "nothing here", not a failure. 6.4.2 answers an active survey without
# responses "No Data, could not get max id."; "No Response found" is export_responses_by_token's
# and older versions' answer.
EMPTY_STATUSES = frozenset({"No Response found", "No surveys found", "No Data, could not get max id."})
NO_RESPONSES_YET = "No Data, could not get max id."

# Question codes that hold a respondent's email or name (LimeSurvey headings are the codes the
# survey author chose): the source's `pseudonymised_codes` / `dropped_codes`, defaults below. A
# survey asking for an email or a name under another code must have it configured before it is
# read: the extractor cannot tell personal answers from others. Emails and full names become
# `<code>_pseudonym` (the same keyed pseudonym pretix gets for the same email); name parts, the
# participant `token` (a credential), IP addresses and referrer URLs are dropped; every other
# answer is kept as free text, scrubbed of emails and phone numbers.
PSEUDONYMISED_CODES = DEFAULT_LIMESURVEY_PSEUDONYMISED_CODES
DROPPED_CODES = DEFAULT_LIMESURVEY_DROPPED_CODES
SURVEY_RULES = fields("keep", "sid", "surveyls_title", "startdate", "expires", "active")
RESPONSE_RULES = (
    *fields("keep", "id", "_survey_id", "submitdate", "lastpage", "startlanguage", "seed"),
    *fields("keep", "startdate", "datestamp"),
    *fields("drop", "token", "ipaddr", "refurl"),
    FieldRule("*", "scrub"),  # the answers: any question code the survey defines
)


class RefusedError(SourceError):
    """LimeSurvey answered, with a status refusing the call (not a transport or server error)."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


def identifying_rules(source: LimeSurveySource) -> tuple[FieldRule, ...]:
    return (
        *fields("pseudonymise", *source.pseudonymised_codes),
        *fields("drop", *source.dropped_codes),
    )


class LimeSurveyClient(ApiClient):
    """ApiClient plus JSON-RPC calls and the session key's lifetime."""

    def __init__(self, source_name: str, endpoint: str, username: str, password: str, **kwargs: Any):
        super().__init__(source_name, endpoint, secrets=(password,), **kwargs)
        self.endpoint = endpoint
        self._username = username
        self._password = password
        self._session_key: str | None = None
        self._call_id = 0
        self.last_empty_status: str | None = None

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; None for an empty answer, SourceError for any refusal."""
        self._call_id += 1
        answer = self.post_json(
            self.endpoint, {"method": method, "params": list(params), "id": self._call_id}
        )
        if not isinstance(answer, dict) or "result" not in answer:
            raise SourceError(f"{self.source_name}: {method}: not a JSON-RPC answer")
        if answer.get("error"):
            raise SourceError(self._redact(f"{self.source_name}: {method} failed: {answer['error']}"))
        result = answer["result"]
        if isinstance(result, dict) and "status" in result:
            status = str(result["status"])
            if status in EMPTY_STATUSES:
                self.last_empty_status = status
                return None
            raise RefusedError(self._redact(f"{self.source_name}: {method} refused: {status}"), status)
        return result

    def session_key(self) -> str:
        if self._session_key is None:
            try:
                key = self.call("get_session_key", self._username, self._password)
            except RefusedError as exc:  # a 503 or a timeout says nothing about the credentials
                raise SourceError(
                    f"{exc}: check the credentials in the configured environment variables"
                ) from None
            if not isinstance(key, str) or not key:
                raise SourceError(f"{self.source_name}: get_session_key returned no key")
            self._session_key = key
            self._secrets = (*self._secrets, key)
        return self._session_key

    def release(self) -> None:
        """Release the session key if one was obtained; a failure here is logged, not raised."""
        key, self._session_key = self._session_key, None
        if key is None:
            return
        try:
            self.call("release_session_key", key)
        except SourceError as exc:
            log.warning("%s: could not release the session key: %s", self.source_name, exc)

    def close(self) -> None:
        try:
            self.release()
        finally:
            super().close()


def make_client(source_name: str, source: LimeSurveySource) -> LimeSurveyClient:
    credentials = source.credentials
    username = os.environ.get(credentials.username_env, "")
    password = os.environ.get(credentials.password_env, "")
    missing = [
        name
        for name, value in ((credentials.username_env, username), (credentials.password_env, password))
        if not value
    ]
    if missing:
        raise SourceError(
            f"{source_name}: no LimeSurvey login: set the environment variable(s) {', '.join(missing)}"
        )
    return LimeSurveyClient(source_name, str(source.base_url), username, password, settings=source.http)


def _list_surveys(client: LimeSurveyClient, source: LimeSurveySource) -> list[dict[str, Any]]:
    surveys = client.call("list_surveys", client.session_key()) or []
    if not isinstance(surveys, list):
        raise SourceError(f"{client.source_name}: list_surveys did not return a list")
    if source.survey_ids:
        wanted = set(source.survey_ids)
        surveys = [s for s in surveys if _int(s.get("sid")) in wanted]
    return surveys


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def decode_export(client: LimeSurveyClient, method_result: Any, sid: int) -> list[dict[str, Any]]:
    """The responses of a base64 JSON export, each a flat dict with an integer `id`."""
    if method_result is None:
        return []
    try:
        document = json.loads(base64.b64decode(method_result, validate=True))
    except (binascii.Error, ValueError, TypeError):
        raise SourceError(
            f"{client.source_name}: export_responses of survey {sid} is not base64 JSON"
        ) from None
    rows = document.get("responses") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise SourceError(f"{client.source_name}: export_responses of survey {sid} has no responses list")
    responses = []
    for row in rows:
        if not isinstance(row, dict):
            raise SourceError(f"{client.source_name}: survey {sid}: a response is not an object")
        if len(row) == 1 and isinstance(value := next(iter(row.values())), dict):
            key = next(iter(row))  # keyed shape: {"12": {...}}
            response = dict(value)
            response.setdefault("id", key)
        else:
            response = dict(row)
        if (number := _int(response.get("id"))) is not None:
            response["id"] = number  # the loader quarantines a response without a usable id
        responses.append(response)
    return responses


def _export(
    client: LimeSurveyClient,
    sid: int,
    first: int | None,
    last: int | None,
    fields: list[str] | None,
    completion: str = "all",
) -> list[dict[str, Any]]:
    result = client.call(
        "export_responses",
        client.session_key(),
        sid,
        "json",
        None,
        completion,
        "code",
        "short",
        first,
        last,
        fields,
    )
    return decode_export(client, result, sid)


def fetch_surveys(
    client: LimeSurveyClient, source: LimeSurveySource, context: FetchContext
) -> Iterator[Page]:
    surveys = _list_surveys(client, source)
    if surveys:
        yield surveys


def _local_time(value: Any) -> datetime | None:
    """A LimeSurvey timestamp (server-local, no zone); None for "" or anything unparseable."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _completed_since_landing(
    client: LimeSurveyClient, source: LimeSurveySource, context: FetchContext, sid: int, start: int
) -> list[int]:
    """Ids below the cursor completed after the last landed batch (they may have landed incomplete).

    LimeSurvey's times carry no zone, so both bounds get a day of slack: a response completed
    shortly before the last batch may be read once more (staging keeps the latest version).
    """
    days = source.reread_incomplete_days
    if days == 0 or context.last_extracted_at is None:
        return []
    slack = timedelta(days=1)
    now = datetime.now(UTC).replace(tzinfo=None)
    started_after = now - timedelta(days=days) - slack
    landed = datetime.fromisoformat(context.last_extracted_at).astimezone(UTC).replace(tzinfo=None)
    completed_after = landed - slack
    rows = _export(client, sid, None, start - 1, ["id", "startdate", "submitdate"], "complete")
    reopened = []
    for row in rows:
        started, submitted = _local_time(row.get("startdate")), _local_time(row.get("submitdate"))
        recent = started and submitted and started >= started_after and submitted >= completed_after
        if recent and isinstance(row.get("id"), int):
            reopened.append(row["id"])
    return sorted(reopened)


def _survey_pages(
    client: LimeSurveyClient, source: LimeSurveySource, context: FetchContext, sid: int
) -> Iterator[Page]:
    """One survey's responses: ids from the cursor on, then contiguous windows of page_size ids."""
    start = _int(context.start(str(sid)))
    window_end = _int(context.window.end)
    last = window_end - 1 if window_end is not None else None
    client.last_empty_status = None
    ids = _ids(client, sid, start, last)
    if not ids and client.last_empty_status == NO_RESPONSES_YET:
        context.skipped.append((f"survey {sid}", "no responses yet (active, response table empty)"))
    reread = _completed_since_landing(client, source, context, sid, start) if start else []
    for offset in range(0, len(reread), source.http.page_size):
        chunk = reread[offset : offset + source.http.page_size]
        keep = set(chunk)
        page = [r for r in _export(client, sid, chunk[0], chunk[-1], None) if r.get("id") in keep]
        if page:
            yield [{**response, "_survey_id": sid, REREAD_FIELD: True} for response in page]
    deleted = received = 0
    window_start = start
    for offset in range(0, len(ids), source.http.page_size):
        chunk = ids[offset : offset + source.http.page_size]
        # Windows are contiguous (from the previous one's end), so no id between two is skipped.
        page = _export(client, sid, window_start, chunk[-1], None)
        window_start = chunk[-1] + 1
        missing = set(chunk) - {r.get("id") for r in page}
        if missing:  # deleted since the id list was read, or lost: the ids export says which
            still_there = missing & set(_ids(client, sid, chunk[0], chunk[-1]))
            if still_there:
                raise SourceError(
                    f"{client.label}: survey {sid}: export_responses left out {len(still_there)} "
                    f"response(s) its id list holds (ids {chunk[0]}-{chunk[-1]}); stopping"
                )
            deleted += len(missing)
        received += len(page)
        if page:
            yield [{**response, "_survey_id": sid} for response in page]
    context.tally.add(len(ids) - deleted, received)


def _ids(client: LimeSurveyClient, sid: int, first: int | None, last: int | None) -> list[int]:
    """The response ids of a survey in [first, last] (cheap: the id column only)."""
    rows = _export(client, sid, first, last, ["id"])
    return sorted({r["id"] for r in rows if isinstance(r.get("id"), int)})


def fetch_responses(
    client: LimeSurveyClient, source: LimeSurveySource, context: FetchContext
) -> Iterator[Page]:
    """Per survey to read, its pages; a survey that fails is reported and the others go on.

    When every survey read failed, the first failure is raised: a run that landed nothing because
    the server refuses everything must fail, not pass with a note.
    """
    surveys = _list_surveys(client, source)
    if not source.survey_ids:
        for survey in surveys:
            if survey.get("active") != "Y":
                context.skipped.append((f"survey {survey.get('sid')}", "not active: not read"))
        surveys = [s for s in surveys if s.get("active") == "Y"]
    failures: list[SourceError] = []
    for survey in surveys:
        sid = _int(survey.get("sid"))
        if sid is None:
            raise SourceError(f"{client.source_name}: list_surveys returned a survey without a numeric sid")
        try:
            yield from _survey_pages(client, source, context, sid)
        except SourceError as exc:  # already redacted; its pages so far stay landed
            failures.append(exc)
            reason = f"refused: {exc.status}" if isinstance(exc, RefusedError) else f"failed: {exc}"
            context.skipped.append((f"survey {sid}", reason))
    if source.survey_ids:
        listed = {_int(s.get("sid")) for s in surveys}
        for sid in source.survey_ids:
            if sid not in listed:
                context.skipped.append((f"survey {sid}", "configured but not listed by list_surveys"))
    if failures and len(failures) == len(surveys):
        raise failures[0]


STREAMS = {
    "surveys": Stream("surveys", ("sid",), None, fetch_surveys, SURVEY_RULES),
    "responses": Stream(
        "responses",
        ("_survey_id", "id"),
        "id",
        fetch_responses,
        RESPONSE_RULES,
        cursor_type="integer",
        partition_field="_survey_id",
        source_rules=identifying_rules,
    ),
}
