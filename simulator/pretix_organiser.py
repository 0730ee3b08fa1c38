"""The demo pretix organiser: its slug, default seed, time zone and how its timestamps are written."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

ORGANIZER = "ecccn"
DEFAULT_SEED = 2019
TIMEZONE = "Europe/Brussels"
TZ = ZoneInfo(TIMEZONE)


def iso_time(moment: datetime) -> str:
    """A timestamp pretix sets itself (order placed, modified, check-in), as 2026.8.0 writes it:
    UTC with microseconds and a `Z` (`2026-06-14T20:00:00.189164Z`, measured). Planned times are
    whole seconds, so the microseconds are derived from the moment itself (no random draw)."""
    utc = moment.astimezone(UTC)
    if utc.microsecond == 0:
        digest = hashlib.sha256(utc.isoformat().encode()).digest()
        utc = utc.replace(microsecond=int.from_bytes(digest[:4], "big") % 1_000_000)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_time(moment: datetime) -> str:
    """An event's `date_from` / `date_to`: UTC with a `Z` whatever the event's time zone (measured:
    an event in Pacific/Auckland starting 2026-06-15 08:00 local reads `2026-06-14T20:00:00Z`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """A timestamp this simulator wrote, as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
