"""DRF's limit/offset pagination, as the asset list and the data endpoint page their results."""

from __future__ import annotations

from typing import Any

from simulator.http_app import Request


def _positive_int(value: str | None, *, default: int, strict: bool, cutoff: int | None = None) -> int:
    """DRF's parsing of limit/offset parameters: invalid values fall back to the default."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    if number < 0 or (strict and number == 0):
        return default
    return min(number, cutoff) if cutoff else number


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
