"""The partner systems the pipeline knows, by the `kind` used in the configuration.

Each is one module declaring SYSTEM, VERSION, STREAMS and make_client(source_name, source);
imported on first use so a DAG parse or a run only loads the systems it configures.
"""

from __future__ import annotations

import importlib
from types import ModuleType

SYSTEMS: dict[str, str] = {
    "pretix": "extractors.pretix",
    "registry": "extractors.registry",
    "limesurvey": "extractors.limesurvey",
    "kobotoolbox": "extractors.kobotoolbox",
}


def system_for(kind: str) -> ModuleType:
    try:
        return importlib.import_module(SYSTEMS[kind])
    except KeyError:
        raise ValueError(f"unknown partner-system kind {kind!r} (known: {', '.join(SYSTEMS)})") from None
