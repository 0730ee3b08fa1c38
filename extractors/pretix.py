"""pretix (REST API v1): events, orders with positions and answers, check-ins.

Orders are incremental by `last_modified` (`modified_since`, inclusive). A check-in (and its
deletion) touches its order's `last_modified` (pretix's `Checkin.save()` / `delete()` call
`order.touch()`, measured on 2026.8.0), and an order's positions carry the check-ins of every
check-in list, so attendance comes from the order feed (staging reads `positions[].checkins`).
The `checkins` stream (every list's checked-in positions, as a snapshot) is kept for
reconciliation only: it is not among the default streams (docs/contracts.md, "Attendance").
Event dates are UTC whatever the event's `timezone`; staging converts them to the local date.
Pages hold at most 50 records (the server's `max_page_size`), the default `page_size` here.

Orders are paged by the cursor itself, not by page number: pretix pages by number, and an order
modified between two fetches moves to the end while the one behind it slides onto the page already
read (measured on pretix 2026.8). So each request asks again with `modified_since` = the last
`last_modified` received, skipping the orders already taken at that instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from extractors.http import ApiClient, token_client
from extractors.source_config import PretixSource
from extractors.streams import FetchContext, FieldRule, Page, Stream, fields, parse_cursor

SYSTEM = "pretix"
VERSION = "pretix-1"

# The allow-list (docs/privacy.md has the table and the reasons): what staging reads, the keys and
# cursors, and nothing else. Free text that is kept (company, answers) is scrubbed of emails and
# phone numbers; the people themselves are pseudonymised (the same keyed hash in every system).
# Known fields that must never land are listed as "drop" so they are not reported as new.
_POSITION_PERSON = (
    *fields("pseudonymise", "attendee_email", "attendee_name"),
    *fields("drop", "attendee_name_parts", "street", "zipcode", "city", "state", "secret"),
)
POSITION_RULES = (
    *fields("keep", "id", "positionid", "order", "item", "canceled", "country"),
    *_POSITION_PERSON,
    FieldRule("company", "scrub"),
    *fields("keep", "answers[].question", "answers[].question_identifier"),
    *fields("keep", "answers[].option_identifiers"),
    FieldRule("answers[].answer", "scrub"),
)
_CHECKIN_KEYS = ("id", "list", "datetime", "type", "auto_checked_in")
ORDER_RULES = (
    *fields("keep", "code", "event", "status", "testmode", "datetime", "last_modified"),
    FieldRule("email", "pseudonymise"),
    *fields("drop", "phone", "secret", "url", "comment", "customer"),
    FieldRule("invoice_address.company", "scrub"),
    FieldRule("invoice_address.country", "keep"),
    *fields("drop", "invoice_address.name", "invoice_address.name_parts", "invoice_address.street"),
    *fields("drop", "invoice_address.zipcode", "invoice_address.city", "invoice_address.vat_id"),
    *(FieldRule(f"positions[].{rule.path}", rule.action) for rule in POSITION_RULES),
    # attendance: every list's check-ins of the position, touched with the order by each scan
    *(FieldRule(f"positions[].checkins[].{key}", "keep") for key in _CHECKIN_KEYS),
)
EVENT_RULES = (
    *fields("keep", "slug", "name", "date_from", "date_to", "timezone", "location"),
    *fields("keep", "testmode", "live"),
    *(
        FieldRule(f"meta_data.{key}", "keep")
        for key in (
            "activity_type",
            "modality",
            "host_country",
            "beneficiary_countries",
            "phase",
            "delivering_body",
            "region",
            "experts",
            "organisers",
        )
    ),
)
CHECKIN_RULES = (
    *fields("keep", "_event", "_checkin_list", "id", "order", "item", "canceled"),
    *_POSITION_PERSON,  # the pseudonyms let an erasure find the person's check-ins
    *(FieldRule(f"checkins[].{key}", "keep") for key in _CHECKIN_KEYS),
)


def make_client(source_name: str, source: PretixSource) -> ApiClient:
    return token_client(source_name, source)


def _org(source: PretixSource) -> str:
    return f"organizers/{quote(source.organizer, safe='')}"


def fetch_events(client: ApiClient, source: PretixSource, context: FetchContext) -> Iterator[Page]:
    params = {"page_size": source.http.page_size}
    yield from client.paginate(f"{_org(source)}/events/", params, tally=context.tally)


def fetch_orders(client: ApiClient, source: PretixSource, context: FetchContext) -> Iterator[Page]:
    """Orders by `last_modified`, each request starting at the last instant received (keyset)."""
    base: dict[str, object] = {"ordering": "last_modified", "page_size": source.http.page_size}
    bound: dict[str, object] = {"since": context.start(), "taken": set()}

    def params_for(page: Page | None) -> dict[str, object]:
        if page:
            last = max(page, key=_modified_at)["last_modified"]
            at_last = {o.get("code") for o in page if _modified_at(o) == parse_cursor(last)}
            same = bound["since"] is not None and parse_cursor(bound["since"]) == parse_cursor(last)
            bound["taken"] = (bound["taken"] | at_last) if same else at_last
            bound["since"] = last
        return {**base, "modified_since": bound["since"]} if bound["since"] else dict(base)

    def fresh(page: Page) -> Page:
        if bound["since"] is None or not bound["taken"]:
            return page
        edge = parse_cursor(bound["since"])
        return [o for o in page if not (_modified_at(o) == edge and o.get("code") in bound["taken"])]

    yield from client.walk(f"{_org(source)}/orders/", params_for, fresh=fresh, tally=context.tally)


def _modified_at(order: dict) -> object:
    """An order's `last_modified` as an instant; a missing or bad one sorts first (quarantined later)."""
    try:
        return parse_cursor(str(order["last_modified"]))
    except (KeyError, ValueError):
        return parse_cursor("0001-01-01T00:00:00+00:00")


def fetch_checkins(client: ApiClient, source: PretixSource, context: FetchContext) -> Iterator[Page]:
    """Every position with a check-in, per event and check-in list, tagged with both."""
    for events in client.paginate(f"{_org(source)}/events/", {"page_size": source.http.page_size}):
        for event in events:
            slug = event.get("slug")
            if not slug:
                continue
            event_path = f"{_org(source)}/events/{quote(slug, safe='')}"
            for lists in client.paginate(f"{event_path}/checkinlists/"):
                for checkin_list in lists:
                    positions_path = f"{event_path}/checkinlists/{checkin_list['id']}/positions/"
                    params = {"has_checkin": "true", "page_size": source.http.page_size}
                    for page in client.paginate(positions_path, params, tally=context.tally):
                        yield [{**p, "_event": slug, "_checkin_list": checkin_list["id"]} for p in page]


STREAMS = {
    "events": Stream("events", ("slug",), None, fetch_events, EVENT_RULES),
    "orders": Stream("orders", ("code",), "last_modified", fetch_orders, ORDER_RULES),
    "checkins": Stream("checkins", ("_checkin_list", "id"), None, fetch_checkins, CHECKIN_RULES),
}
