"""The demo pretix organiser: its slug, default seed, time zone and how its timestamps are written."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

ORGANIZER = "ecccn"
DEFAULT_SEED = 2019
TIMEZONE = "Europe/Brussels"
TZ = ZoneInfo(TIMEZONE)


def iso_time(moment: datetime) -> str:
    """A timestamp as pretix writes it: ISO 8601 to the second, with its offset."""
    return moment.isoformat(timespec="seconds")
