"""pretix (REST API v1): events, orders with positions and answers, check-ins.

Orders are incremental by `last_modified` (`modified_since`, inclusive). A check-in (and its
deletion) touches its order's `last_modified` (pretix's `Checkin.save()` / `delete()` call
`order.touch()`, measured on 2026.8.0), and an order's positions carry the check-ins of every
check-in list, so attendance comes from the order feed (staging reads `positions[].checkins`).
The `checkins` stream (every list's checked-in positions, as a snapshot) is kept for
reconciliation only: it is not among the default streams (docs/contracts.md, "Attendance").
Event dates are UTC whatever the event's `timezone`; staging converts them to the local date.
Pages hold at most 50 records (the server's `max_page_size`), the default `page_size` here.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from extractors.http import ApiClient, token_client
from extractors.source_config import PretixSource
from extractors.streams import FetchContext, FieldRule, Page, Stream

SYSTEM = "pretix"
VERSION = "pretix-1"

_POSITION_FIELDS = (
    ("attendee_email", "pseudonymise"),
    ("attendee_name", "pseudonymise"),
    ("attendee_name_parts", "drop"),
)
POSITION_RULES = tuple(FieldRule(path, action) for path, action in _POSITION_FIELDS)
ORDER_RULES = (
    FieldRule("email", "pseudonymise"),
    FieldRule("phone", "drop"),
    FieldRule("invoice_address.name", "pseudonymise"),
    FieldRule("invoice_address.name_parts", "drop"),
    *(FieldRule(f"positions[].{path}", action) for path, action in _POSITION_FIELDS),
)


def make_client(source_name: str, source: PretixSource) -> ApiClient:
    return token_client(source_name, source)


def _org(source: PretixSource) -> str:
    return f"organizers/{quote(source.organizer, safe='')}"


def fetch_events(client: ApiClient, source: PretixSource, context: FetchContext) -> Iterator[Page]:
    yield from client.paginate(f"{_org(source)}/events/", {"page_size": source.http.page_size})


def fetch_orders(client: ApiClient, source: PretixSource, context: FetchContext) -> Iterator[Page]:
    params: dict[str, object] = {"ordering": "last_modified", "page_size": source.http.page_size}
    if since := context.start():
        params["modified_since"] = since
    yield from client.paginate(f"{_org(source)}/orders/", params)


def fetch_checkins(client: ApiClient, source: PretixSource, context: FetchContext) -> Iterator[Page]:
    """Every position with a check-in, per event and check-in list, tagged with both."""
    for events in fetch_events(client, source, context):
        for event in events:
            slug = event.get("slug")
            if not slug:
                continue
            event_path = f"{_org(source)}/events/{quote(slug, safe='')}"
            for lists in client.paginate(f"{event_path}/checkinlists/"):
                for checkin_list in lists:
                    positions_path = f"{event_path}/checkinlists/{checkin_list['id']}/positions/"
                    params = {"has_checkin": "true", "page_size": source.http.page_size}
                    for page in client.paginate(positions_path, params):
                        yield [{**p, "_event": slug, "_checkin_list": checkin_list["id"]} for p in page]


STREAMS = {
    "events": Stream("events", ("slug",), None, fetch_events),
    "orders": Stream("orders", ("code",), "last_modified", fetch_orders, ORDER_RULES),
    "checkins": Stream("checkins", ("_checkin_list", "id"), None, fetch_checkins, POSITION_RULES),
}
