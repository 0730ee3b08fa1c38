"""Stale sources (engage/warehouse/freshness.py) reach the same notifiers as failed tasks."""

from __future__ import annotations

from engage.config import PipelineConfig
from engage.orchestration.alerts import Alert, notifiers_for, send_alert
from engage.warehouse.freshness import SourceFreshness


def stale_alert(checked: list[SourceFreshness], *, where: str) -> Alert | None:
    """One alert listing every stale source (None when all are fresh)."""
    stale = [item for item in checked if item.is_stale]
    if not stale:
        return None
    systems = ",".join(sorted({item.system for item in stale}))
    streams = ",".join(f"{item.system}.{item.stream}" for item in stale)
    error = "stale sources: " + "; ".join(item.line() for item in stale)
    return Alert(where, "source_freshness", systems, streams, error[:500], where)


def alert_stale(config: PipelineConfig, checked: list[SourceFreshness], *, where: str) -> Alert | None:
    """Send the stale-source alert through the configured notifiers; returns what was sent."""
    alert = stale_alert(checked, where=where)
    if alert is not None:
        send_alert(alert, notifiers_for(config.alerts))
    return alert
