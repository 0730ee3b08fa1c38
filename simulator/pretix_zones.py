"""What the generated events get after their orders are drawn, so the seeded draw stays the same.

* Time zones far from UTC: the programme's Pacific events are run from its Auckland hub, and its
  online sessions for the Pacific from Honolulu; such an event starts at the same local wall-clock
  time in its own zone, and every timestamp of its orders and check-ins moves with it.
* Several check-in lists: an event of more than one day has a second list for the later days
  (pretix organisers split entry by day); check-ins after its first day are on that list.
* A check-in touches its order (pretix's `Checkin.save()` calls `order.touch()`): an order's
  `last_modified` is never before its last check-in.
"""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo

from simulator.pretix_events import EventPlan, checkin_list
from simulator.pretix_model import Order
from simulator.pretix_organiser import TIMEZONE, event_time, iso_time, parse_time

PACIFIC_HOSTS = frozenset({"FJ", "WS", "TO", "PG"})
AUCKLAND, HONOLULU = "Pacific/Auckland", "Pacific/Honolulu"
SECOND_LIST_OFFSET = 10_000  # second lists' ids, clear of the first lists' (one per event)


def event_zone(plan: EventPlan) -> str:
    if plan.host not in PACIFIC_HOSTS:
        return TIMEZONE
    return HONOLULU if plan.modality == "online" else AUCKLAND


def relocate(plan: EventPlan, event: dict, orders: Iterable[Order]) -> None:
    """Move an event to its own zone: same wall-clock times there, all its timestamps shifted."""
    zone = event_zone(plan)
    event["timezone"] = zone
    if zone == TIMEZONE:
        event["date_from"], event["date_to"] = event_time(plan.start), event_time(plan.end)
        return
    shift = plan.start.replace(tzinfo=ZoneInfo(zone)) - plan.start
    event["date_from"], event["date_to"] = event_time(plan.start + shift), event_time(plan.end + shift)
    for order in orders:
        order.datetime = iso_time(parse_time(order.datetime) + shift)
        order.last_modified = iso_time(parse_time(order.last_modified) + shift)
        for position in order.positions:
            for checkin in position.checkins:
                checkin.datetime = iso_time(parse_time(checkin.datetime) + shift)


def add_day_lists(plan: EventPlan, event: dict, first: dict, orders: Iterable[Order]) -> list[dict]:
    """The event's check-in lists: a second one for the later days of a multi-day event."""
    if plan.end.date() == plan.start.date():
        return [first]
    # pending orders are admitted on the later days (include_pending), as some organisers do
    second = {**checkin_list(first["id"] + SECOND_LIST_OFFSET), "name": "Later days", "include_pending": True}
    zone = ZoneInfo(event["timezone"])
    first_day = parse_time(event["date_from"]).astimezone(zone).date()
    for order in orders:
        for position in order.positions:
            for checkin in position.checkins:
                if parse_time(checkin.datetime).astimezone(zone).date() > first_day:
                    checkin.list_id = second["id"]
    return [first, second]


def touch_orders(orders: Iterable[Order]) -> None:
    """An order's last_modified is at least its last check-in (a check-in touches the order)."""
    for order in orders:
        moments = [parse_time(c.datetime) for p in order.positions for c in p.checkins]
        if moments and max(moments) > parse_time(order.last_modified):
            order.last_modified = iso_time(max(moments))


def finish(plans: list[EventPlan], events: list[dict], orders: list[Order], lists: dict) -> dict:
    """Apply all of the above; returns the check-in lists by event slug."""
    by_event: dict[str, list[Order]] = {}
    for order in orders:
        by_event.setdefault(order.event, []).append(order)
    result = {}
    for plan, event in zip(plans, events, strict=True):
        relocate(plan, event, by_event.get(plan.slug, ()))
        result[plan.slug] = add_day_lists(plan, event, lists[plan.slug], by_event.get(plan.slug, ()))
    touch_orders(orders)
    return result
