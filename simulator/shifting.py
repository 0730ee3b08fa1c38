"""Concurrent changes between two page fetches: what the fault plan's `shifting_pages` does per system.

Each mutator changes the store the way a partner's users would while a client pages through a
list, choosing a record the client has most likely already read (the first of the list), so that
offset or page-number paging skips the record that slides into its place:

* pretix: the first order of the list is modified (its `last_modified` becomes now: it moves to
  the end of `ordering=last_modified`);
* KoboToolbox: the first submission of the form's list is deleted;
* LimeSurvey (`export_responses`): a response is added to the survey and the last one of the
  asked window is deleted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator import kobo_api, limesurvey_api, pretix_api
from simulator.http_app import HttpError, Request, Router
from simulator.kobo_api_query import query_submissions


def register(router: Router, pretix: Any, kobo: Any, limesurvey: Any) -> None:
    """Add each system's mutator for its incremental list to `router`."""
    orders = rf"^{pretix_api.API_PREFIX}/organizers/[^/]+/(events/[^/]+/)?orders/$"
    router.add_mutator(orders, _pretix(pretix))
    router.add_mutator(rf"^{kobo_api.API_PREFIX}/assets/[^/]+/data/$", _kobo(kobo))
    router.add_mutator(rf"^{limesurvey_api.ENDPOINT}$", _limesurvey(limesurvey))


def _pretix(store: Any):
    def mutate(request: Request) -> bool:
        with store.lock:
            try:
                orders = pretix_api._filter_orders(request, store.orders)
            except HttpError:
                return False
            if not orders:
                return False
            latest = max(datetime.fromisoformat(o.last_modified) for o in store.orders)
            moment = max(datetime.now(UTC), latest + timedelta(milliseconds=1))
            orders[0].last_modified = moment.isoformat()  # what any change to an order does
            store.changed()
            return True

    return mutate


def _kobo(store: Any):
    def mutate(request: Request) -> bool:
        uid = request.path.rstrip("/").split("/")[-2]
        with store.lock:
            asset = store.dataset.asset(uid)
            if asset is None or not asset.has_deployment:
                return False
            try:
                listed = query_submissions(request, asset.submissions)
            except HttpError:
                return False
            if not listed:
                return False
            asset.submissions.remove(listed[0])
            return True

    return mutate


def _limesurvey(store: Any):
    def mutate(request: Request) -> bool:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return False
        params = body.get("params") if isinstance(body, dict) else None
        if body.get("method") != "export_responses" or not isinstance(params, list) or len(params) < 10:
            return False
        if params[-1] is not None:  # an ids-only export: leave the list the client plans from alone
            return False
        with store.lock:
            survey = store.survey(params[1])
            if survey is None or not survey.responses:
                return False
            last_id = params[8]
            in_window = [r for r in survey.responses if last_id is None or r["id"] <= int(last_id)]
            added = {**survey.responses[-1], "id": survey.responses[-1]["id"] + 1}
            added["submitdate"] = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            survey.responses.append(added)
            if in_window:
                survey.responses.remove(in_window[-1])
            return True

    return mutate
