"""The simulated pretix REST API v1 (read endpoints) and its test-control endpoints.

Read routes live under ``/pretix/api/v1/`` and need ``Authorization: Token <token>``. Control
routes live under ``/_sim/pretix/`` (loopback clients only, no token) and mutate the data the
way pretix would: a check-in leaves the order's ``last_modified`` alone, a cancellation bumps it.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

from simulator import countries
from simulator.http_app import HttpError, Request, Response, Router, paginate
from simulator.pretix_data import TZ, PretixDataset
from simulator.pretix_model import Checkin, Order, Person, Position, render_order, render_position

DEMO_PRETIX_TOKEN = "demo-pretix-token"
API_PREFIX = "/pretix/api/v1"
CONTROL_PREFIX = "/_sim/pretix"
PUBLIC_SHOP_URL = "https://tickets.example.org"  # order "url" points at the (fake) shop

ORDER_ORDERINGS = {"datetime", "last_modified", "code"}
EVENT_ORDERINGS = {"date_from", "slug"}


def _parse_datetime(value: str, name: str) -> datetime:
    try:
        # an unescaped "+" in the offset arrives as a space: put it back
        moment = datetime.fromisoformat(re.sub(r" (\d\d:?\d\d)$", r"+\1", value.strip()))
    except ValueError as exc:
        raise HttpError(400, f"{name}: Enter a valid date/time.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


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

    def event(self, slug: str) -> dict[str, Any]:
        event = self.events_by_slug.get(slug)
        if event is None:
            raise HttpError(404, "Not found.")
        return event

    def order(self, code: str) -> Order:
        order = self.orders_by_code.get(code)
        if order is None:
            raise HttpError(404, "Not found.")
        return order

    # -- control mutations (call with the lock held) ------------------------------------
    def checkin(self, order: Order, positionid: int | None, kind: str) -> Checkin:
        candidates = [p for p in order.positions if not p.canceled]
        if positionid is not None:
            candidates = [p for p in candidates if p.positionid == positionid]
        if not candidates:
            raise HttpError(400, "No valid position to check in.")
        list_id = self.checkin_lists[order.event]["id"]
        moment = _now().astimezone(TZ).isoformat()
        checkin = Checkin(self.next_checkin, list_id, moment, kind)
        self.next_checkin += 1
        candidates[0].checkins.append(checkin)
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
        now = _now().isoformat()
        position = Position(self.next_position, 1, person, typed_country)
        self.next_position += 1
        event = self.events_by_slug[slug]
        order = Order(self.new_code(), slug, "p", event["testmode"], now, now, person, [position])
        self.orders.append(order)
        self.orders_by_code[order.code] = order
        self.orders_by_event[slug].append(order)
        return order


def _filter_orders(request: Request, orders: list[Order]) -> list[Order]:
    """pretix's order list filters and ordering (default ordering: datetime)."""
    testmode = request.flag("testmode")
    if testmode is not None:
        orders = [o for o in orders if o.testmode == testmode]
    status = request.arg("status")
    if status:
        orders = [o for o in orders if o.status == status]
    since = request.arg("modified_since")
    if since:
        threshold = _parse_datetime(since, "modified_since")
        orders = [o for o in orders if datetime.fromisoformat(o.last_modified) >= threshold]
    ordering = request.arg("ordering") or "datetime"
    field = ordering.lstrip("-")
    if field not in ORDER_ORDERINGS:
        field = "datetime"  # DRF ignores unknown ordering fields
    if field == "code":
        key = lambda o: o.code or ""  # noqa: E731
    else:
        key = lambda o: (datetime.fromisoformat(getattr(o, field)), o.code or "")  # noqa: E731
    return sorted(orders, key=key, reverse=ordering.startswith("-"))


def build_router(store: PretixStore, token: str = DEMO_PRETIX_TOKEN) -> Router:
    """Routes of the simulated pretix, bound to ``store``."""
    router = Router()
    org_prefix = f"{API_PREFIX}/organizers/{{org}}"

    def authorised(handler):
        def wrapper(request: Request) -> Any:
            if request.headers.get("authorization", "").strip() != f"Token {token}":
                raise HttpError(401, "Invalid token.", {"WWW-Authenticate": "Token"})
            if request.params["org"] != store.organizer:
                raise HttpError(403, "You do not have permission to perform this action.")
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
        return paginate(request, events)

    @router.route("GET", f"{org_prefix}/events/{{slug}}/")
    @authorised
    def get_event(request: Request) -> Any:
        return store.event(request.params["slug"])

    @router.route("GET", f"{org_prefix}/orders/")
    @authorised
    def list_orders(request: Request) -> Any:
        orders = _filter_orders(request, store.orders)
        return paginate(request, orders, lambda o: render(o, request))

    @router.route("GET", f"{org_prefix}/events/{{slug}}/orders/")
    @authorised
    def list_event_orders(request: Request) -> Any:
        store.event(request.params["slug"])
        orders = _filter_orders(request, store.orders_by_event[request.params["slug"]])
        return paginate(request, orders, lambda o: render(o, request))

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
        checkin_list = dict(store.checkin_lists[slug])
        positions = _list_positions(store, slug, ignore_status=False)
        checkin_list["position_count"] = len(positions)
        checkin_list["checkin_count"] = sum(len(p.checkins) for _, p in positions)
        return paginate(request, [checkin_list])

    @router.route("GET", f"{org_prefix}/events/{{slug}}/checkinlists/{{list_id}}/positions/")
    @authorised
    def list_checkin_positions(request: Request) -> Any:
        slug = request.params["slug"]
        store.event(slug)
        if str(store.checkin_lists[slug]["id"]) != request.params["list_id"]:
            raise HttpError(404, "Not found.")
        positions = _list_positions(store, slug, bool(request.flag("ignore_status")))
        has_checkin = request.flag("has_checkin")
        if has_checkin is not None:
            positions = [(o, p) for o, p in positions if bool(p.checkins) == has_checkin]
        return paginate(request, positions, lambda pair: render_position(*pair))

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
        store.checkin(order, body.get("positionid"), kind)
        return render(order, request)

    @router.route("POST", f"{CONTROL_PREFIX}/orders/{{code}}/cancel")
    @control
    def control_cancel(request: Request) -> Any:
        order = store.order(request.params["code"])
        order.status = "c"
        order.last_modified = _now().isoformat()
        return render(order, request)

    @router.route("POST", f"{CONTROL_PREFIX}/orders")
    @control
    def control_create(request: Request) -> Any:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, "Expected a JSON object.")
        return Response(201, render(store.create_order(body), request))

    return router


def _list_positions(store: PretixStore, slug: str, ignore_status: bool) -> list[tuple]:
    """(order, position) pairs on an event's check-in list, in position id order.

    Like pretix, only paid orders count unless ``ignore_status``; canceled positions never do.
    """
    pairs = [
        (order, position)
        for order in store.orders_by_event[slug]
        if ignore_status or order.status == "p"
        for position in order.positions
        if not position.canceled
    ]
    return sorted(pairs, key=lambda pair: pair[1].id)
