"""The data endpoint's ``query`` (MongoDB-style filter) and ``sort`` parameters over submissions."""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from simulator.http_app import HttpError, ListTail, Request

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


def _after_id(submissions: list[dict[str, Any]], query: dict | None, sort: dict | None) -> Sequence | None:
    """The extractor's full read (`{"_id": {"$gt": n}}` or no query, sorted by `_id`) as a bisection
    when the list is in `_id` order (it is kept so): the same answer without filtering and sorting
    every submission for every page, which made a form of 282k submissions (100x) quadratic."""
    query = query or {}
    bound = query.get("_id", {"$gt": None})
    if sort != {"_id": 1} or set(query) - {"_id"} or not isinstance(bound, dict) or set(bound) != {"$gt"}:
        return None
    after = bound["$gt"]
    if after is not None and type(after) not in (int, float):
        return None  # Mongo's cross-type rules: the general path
    ids_in_order = all(type(s.get("_id")) is int for s in submissions) and all(
        a["_id"] < b["_id"] for a, b in pairwise(submissions)
    )
    if not ids_in_order:
        return None
    start = 0 if after is None else bisect_right(submissions, after, key=lambda s: s["_id"])
    return ListTail(submissions, start)


def query_submissions(request: Request, submissions: list[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    query = _json_param(request, "query")
    fast = _after_id(submissions, query, _json_param(request, "sort"))
    if fast is not None:
        return fast
    found = [s for s in submissions if matches(s, query)] if query else list(submissions)
    found.sort(key=lambda s: _sort_key(s.get("_id")))
    sort = _json_param(request, "sort") or {}
    for field, direction in reversed(list(sort.items())):  # stable sorts, last key first
        if direction not in (1, -1):
            raise HttpError(400, "sort: directions are 1 or -1.")
        found.sort(key=lambda s, f=field: _sort_key(s.get(f)), reverse=direction == -1)
    return found
