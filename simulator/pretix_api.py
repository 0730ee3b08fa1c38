"""The simulated pretix REST API v1 (read endpoints) and its test-control endpoints.

Read routes live under ``/pretix/api/v1/`` and need ``Authorization: Token <token>``. Control
routes live under ``/_sim/pretix/`` (loopback clients only, no token) and mutate the data the
way pretix would: a check-in and a cancellation both bump the order's ``last_modified``.

As pretix 2026.8.0 answers (measured, ../shared/SOURCES.md): pages of at most 50 whatever
``page_size`` asks; an unknown event slug is 403 (not 404); no token 401 "Authentication
credentials were not provided."; a bad ``modified_since`` 400 ``{"modified_since": ["Enter a
valid date/time."]}``; a check-in list's positions carry only that list's check-ins, and pending
orders are on a list only if it has ``include_pending``.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from simulator import countries
from simulator.http_app import HttpError, ListTail, Request, Response, Router, paginate
from simulator.pretix_data import PretixDataset
from simulator.pretix_model import Checkin, Order, Person, Position, render_order, render_position
from simulator.pretix_organiser import iso_time

DEMO_PRETIX_TOKEN = "demo-pretix-token"
API_PREFIX = "/pretix/api/v1"
CONTROL_PREFIX = "/_sim/pretix"
PUBLIC_SHOP_URL = "https://tickets.example.org"  # order "url" points at the (fake) shop

MAX_PAGE_SIZE = 50  # pretix's api/pagination.py: a larger page_size is silently capped
FORBIDDEN = "You do not have permission to perform this action."
ORDER_ORDERINGS = {"datetime", "last_modified", "code"}
EVENT_ORDERINGS = {"date_from", "slug"}


def _parse_datetime(value: str, name: str) -> datetime:
    try:
        # an unescaped "+" in the offset arrives as a space: put it back
        moment = datetime.fromisoformat(re.sub(r" (\d\d:?\d\d)$", r"+\1", value.strip()))
    except ValueError as exc:
        raise FieldError(name, "Enter a valid date/time.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class FieldError(HttpError):
    """DRF's validation answer: 400 with ``{field: [message]}`` (no ``detail``)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(400, message)
        self.body = {name: [message]}


def _now() -> datetime:
    return datetime.now(UTC)


def _page(request: Request, items: list, render=lambda item: item) -> dict[str, Any]:
    return paginate(request, items, render, max_size=MAX_PAGE_SIZE)


class PretixStore:
    """The organiser's data plus the lock that makes control mutations thread-safe."""

    def __init__(self, dataset: PretixDataset) -> None:
        self.lock = threading.RLock()
        self.organizer = dataset.organizer
        self.events = dataset.events
        self.events_by_slug = {e["slug"]: e for e in dataset.events}
        self.checkin_lists = dataset.checkin_lists
        self.orders = list(dataset.orders)
        self.orders_by_code = {o.code: o for o in self.orders if o.code is not None}
        self.orders_by_event: dict[str, list[Order]] = {slug: [] for slug in self.events_by_slug}
        for order in self.orders:
            self.orders_by_event[order.event].append(order)
        positions = [p for o in self.orders for p in o.positions]
        self.next_position = max((p.id for p in positions), default=0) + 1
        self.next_checkin = max((c.id for p in positions for c in p.checkins), default=0) + 1
        self._codes = 0
        self.version = 0  # bumped by every change to an order (changed()): the sorted lists' key
        self._sorted: dict[tuple[int, str], tuple[tuple[int, int], list[Order], list[str]]] = {}

    def changed(self) -> None:
        """Call after changing an order in place (with the lock held): the sorted lists are rebuilt."""
        self.version += 1

    def sorted_orders(self, orders: list[Order], field: str) -> tuple[list[Order], list[str]]:
        """`orders` (store.orders or an event's) sorted by (field, code), with the field's values.

        Built once per change, not per page: a scaled programme (1.7M orders at 100x) is paged
        50 at a time, and sorting it for every page made serving quadratic."""
        key = (id(orders), field)
        valid = (self.version, len(orders))
        cached = self._sorted.get(key)
        if cached is None or cached[0] != valid:
            by_code = field == "code"
            ordered = sorted(orders, key=lambda o: ("" if by_code else getattr(o, field), o.code or ""))
            values = [getattr(o, field) or "" for o in ordered]
            cached = self._sorted[key] = (valid, ordered, values)
        return cached[1], cached[2]

    def event(self, slug: str) -> dict[str, Any]:
        event = self.events_by_slug.get(slug)
        if event is None:  # pretix checks the team's event permission first: 403, not 404
            raise HttpError(403, FORBIDDEN)
        return event

    def order(self, code: str) -> Order:
        order = self.orders_by_code.get(code)
        if order is None:
            raise HttpError(404, "Not found.")
        return order

    # -- control mutations (call with the lock held) ------------------------------------
    def checkin_list(self, slug: str, list_id: Any) -> dict[str, Any]:
        for candidate in self.checkin_lists[slug]:
            if str(candidate["id"]) == str(list_id):
                return candidate
        raise HttpError(404, "Not found.")

    def checkin(self, order: Order, positionid: int | None, kind: str, list_id: Any = None) -> Checkin:
        """A scan on a list (the event's first by default); like Checkin.save(), it touches the order."""
        candidates = [p for p in order.positions if not p.canceled]
        if positionid is not None:
            candidates = [p for p in candidates if p.positionid == positionid]
        if not candidates:
            raise HttpError(400, "No valid position to check in.")
        lists = self.checkin_lists[order.event]
        checkin_list = lists[0] if list_id is None else self.checkin_list(order.event, list_id)
        if order.status != "p" and not (order.status == "n" and checkin_list["include_pending"]):
            raise HttpError(400, "This order is not marked as paid.")  # pretix refuses the scan
        moment = iso_time(_now())
        checkin = Checkin(self.next_checkin, checkin_list["id"], moment, kind)
        self.next_checkin += 1
        candidates[0].checkins.append(checkin)
        order.last_modified = moment
        self.changed()
        return checkin

    def new_code(self) -> str:
        # live orders get a recognisable prefix so they never clash with generated codes
        while True:
            self._codes += 1
            code = f"SIM{self._codes:02d}"
            if code not in self.orders_by_code:
                return code

    def create_order(self, body: dict[str, Any]) -> Order:
        slug = body.get("event")
        if not isinstance(slug, str) or slug not in self.events_by_slug:
            raise HttpError(400, "event: unknown event slug.")
        email, name, typed_country = body.get("email"), body.get("name"), body.get("country")
        if not (isinstance(email, str) and isinstance(name, str) and isinstance(typed_country, str)):
            raise HttpError(400, "email, name and country are required strings.")
        iso2 = countries.to_iso2([typed_country])[0]
        if iso2 == "not found":
            raise HttpError(400, f"country: unknown country {typed_country!r}.")
        given, _, family = name.strip().rpartition(" ")
        person = Person(
            given or family,
            family if given else "",
            email,
            iso2,
            str(body.get("organisation", "")),
            str(body.get("sector", "other")),
            str(body.get("gender", "undisclosed")),
        )
        now = iso_time(_now())
        position = Position(self.next_position, 1, person, typed_country)
        self.next_position += 1
        event = self.events_by_slug[slug]
        order = Order(self.new_code(), slug, "p", event["testmode"], now, now, person, [position])
        self.orders.append(order)
        self.orders_by_code[order.code] = order
        self.orders_by_event[slug].append(order)
        self.changed()
        return order


def _filter_orders(
    request: Request, orders: Sequence[Order], store: PretixStore | None = None
) -> Sequence[Order]:
    """pretix's order list filters and ordering (default ordering: datetime).

    With the `store` the orders belong to, its sorted lists are used (and `modified_since` on
    `ordering=last_modified`, the extractor's query, is a bisection): the same answer, cheaper."""
    ordering = request.arg("ordering") or "datetime"
    field = ordering.lstrip("-")
    if field not in ORDER_ORDERINGS:
        field = "datetime"  # DRF ignores unknown ordering fields
    descending = ordering.startswith("-")
    since = request.arg("modified_since")
    threshold = ""
    if since:
        # every stored stamp is UTC `...ffffffZ`: as text they sort and compare as instants
        moment = _parse_datetime(since, "modified_since").astimezone(UTC)
        threshold = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if store is not None and not descending:
        orders, values = store.sorted_orders(orders, field)
        if threshold and field == "last_modified":
            orders, threshold = ListTail(orders, bisect_left(values, threshold)), ""
    else:

        def key(order: Order) -> tuple[str, str]:
            return ("" if field == "code" else getattr(order, field), order.code or "")

        orders = sorted(orders, key=key, reverse=descending)
    if threshold:
        orders = [o for o in orders if o.last_modified >= threshold]
    testmode = request.flag("testmode")
    if testmode is not None:
        orders = [o for o in orders if o.testmode == testmode]
    status = request.arg("status")
    if status:
        orders = [o for o in orders if o.status == status]
    return orders


def build_router(store: PretixStore, token: str = DEMO_PRETIX_TOKEN) -> Router:
    """Routes of the simulated pretix, bound to ``store``."""
    router = Router()
    org_prefix = f"{API_PREFIX}/organizers/{{org}}"

    def authorised(handler):
        def wrapper(request: Request) -> Any:
            given = request.headers.get("authorization", "").strip()
            if not given:
                raise HttpError(
                    401, "Authentication credentials were not provided.", {"WWW-Authenticate": "Token"}
                )
            if given != f"Token {token}":
                raise HttpError(401, "Invalid token.", {"WWW-Authenticate": "Token"})
            if request.params["org"] != store.organizer:
                raise HttpError(403, FORBIDDEN)
            with store.lock:
                return handler(request)

        return wrapper

    def render(order: Order, request: Request) -> dict[str, Any]:
        return render_order(
            order,
            organizer=store.organizer,
            base_url=PUBLIC_SHOP_URL,
            include_canceled_positions=bool(request.flag("include_canceled_positions")),
        )

    @router.route("GET", f"{org_prefix}/events/")
    @authorised
    def list_events(request: Request) -> Any:
        events = store.events
        for name in ("live", "testmode"):
            value = request.flag(name)
            if value is not None:
                events = [e for e in events if e[name] == value]
        ordering = request.arg("ordering") or "slug"
        field = ordering.lstrip("-")
        field = field if field in EVENT_ORDERINGS else "slug"
        events = sorted(events, key=lambda e: (e[field], e["slug"]))
        if ordering.startswith("-"):
            events.reverse()
        return _page(request, events)

    @router.route("GET", f"{org_prefix}/events/{{slug}}/")
    @authorised
    def get_event(request: Request) -> Any:
        return store.event(request.params["slug"])

    @router.route("GET", f"{org_prefix}/orders/")
    @authorised
    def list_orders(request: Request) -> Any:
        orders = _filter_orders(request, store.orders, store)
        return _page(request, orders, lambda o: render(o, request))

    @router.route("GET", f"{org_prefix}/events/{{slug}}/orders/")
    @authorised
    def list_event_orders(request: Request) -> Any:
        store.event(request.params["slug"])
        orders = _filter_orders(request, store.orders_by_event[request.params["slug"]], store)
        return _page(request, orders, lambda o: render(o, request))

    @router.route("GET", f"{org_prefix}/events/{{slug}}/orders/{{code}}/")
    @authorised
    def get_order(request: Request) -> Any:
        order = store.order(request.params["code"])
        if order.event != request.params["slug"]:
            raise HttpError(404, "Not found.")
        return render(order, request)

    @router.route("GET", f"{org_prefix}/events/{{slug}}/checkinlists/")
    @authorised
    def list_checkin_lists(request: Request) -> Any:
        slug = request.params["slug"]
        store.event(slug)
        rendered = []
        for checkin_list in store.checkin_lists[slug]:
            positions = _list_positions(store, slug, checkin_list, ignore_status=False)
            checkins = [c for _, p in positions for c in p.checkins if c.list_id == checkin_list["id"]]
            rendered.append(
                {**checkin_list, "position_count": len(positions), "checkin_count": len(checkins)}
            )
        return _page(request, rendered)

    @router.route("GET", f"{org_prefix}/events/{{slug}}/checkinlists/{{list_id}}/positions/")
    @authorised
    def list_checkin_positions(request: Request) -> Any:
        slug = request.params["slug"]
        store.event(slug)
        checkin_list = store.checkin_list(slug, request.params["list_id"])
        list_id = checkin_list["id"]
        positions = _list_positions(store, slug, checkin_list, bool(request.flag("ignore_status")))
        has_checkin = request.flag("has_checkin")
        if has_checkin is not None:
            positions = [
                (o, p) for o, p in positions if any(c.list_id == list_id for c in p.checkins) == has_checkin
            ]
        return _page(request, positions, lambda pair: render_position(*pair, list_id=list_id))

    def unknown_route(request: Request) -> Response:  # Django's own HTML page, not DRF's JSON
        return Response(404, b"<!DOCTYPE html><html><head><title>Not Found</title></head></html>")

    router.add_prefix("GET", f"{API_PREFIX}/", unknown_route)

    # -- test control -------------------------------------------------------------------
    def control(handler):
        def wrapper(request: Request) -> Any:
            if not request.is_loopback:
                raise HttpError(403, "The control API only answers loopback clients.")
            with store.lock:
                return handler(request)

        return wrapper

    @router.route("POST", f"{CONTROL_PREFIX}/orders/{{code}}/checkin")
    @control
    def control_checkin(request: Request) -> Any:
        body = request.json()
        order = store.order(request.params["code"])
        kind = body.get("type", "entry")
        if kind not in ("entry", "exit"):
            raise HttpError(400, "type must be entry or exit.")
        store.checkin(order, body.get("positionid"), kind, body.get("list"))
        return render(order, request)

    @router.route("POST", f"{CONTROL_PREFIX}/orders/{{code}}/cancel")
    @control
    def control_cancel(request: Request) -> Any:
        order = store.order(request.params["code"])
        order.status = "c"
        order.last_modified = iso_time(_now())
        store.changed()
        return render(order, request)

    @router.route("POST", f"{CONTROL_PREFIX}/orders")
    @control
    def control_create(request: Request) -> Any:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, "Expected a JSON object.")
        return Response(201, render(store.create_order(body), request))

    return router


def _list_positions(store: PretixStore, slug: str, checkin_list: dict, ignore_status: bool) -> list[tuple]:
    """(order, position) pairs on an event's check-in list, in position id order.

    Like pretix, paid orders (and pending ones on a list with ``include_pending``) unless
    ``ignore_status``; canceled positions never. Every list here admits all products.
    """
    statuses = {"p", "n"} if checkin_list["include_pending"] else {"p"}
    pairs = [
        (order, position)
        for order in store.orders_by_event[slug]
        if ignore_status or order.status in statuses
        for position in order.positions
        if not position.canceled
    ]
    return sorted(pairs, key=lambda pair: pair[1].id)
