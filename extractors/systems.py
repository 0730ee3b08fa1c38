"""The partner systems the pipeline knows, by the `kind` used in the configuration."""

from __future__ import annotations

from types import ModuleType

from extractors import pretix

SYSTEMS: dict[str, ModuleType] = {pretix.SYSTEM: pretix}


def system_for(kind: str) -> ModuleType:
    try:
        return SYSTEMS[kind]
    except KeyError:
        raise ValueError(f"unknown partner-system kind {kind!r} (known: {', '.join(SYSTEMS)})") from None
