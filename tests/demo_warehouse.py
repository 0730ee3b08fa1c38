"""One demo warehouse for the read-only end-to-end tests: every demo source, built once a session.

The marts tests (outcomes, registry, analyst guide) only read the marts, so they share this build
instead of running the whole pipeline each (tests/conftest.py: the `demo_warehouse` fixture; under
pytest-xdist they are grouped on one worker with `xdist_group("demo_warehouse")`). A test that
changes source data or the warehouse builds its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engage.config import PipelineConfig, load_config
from engage.pipeline import RunSummary, run_pipeline
from tests.conftest import write_config
from tests.simulator_forms import simulator_surveys

PRETIX, KOBO, LIMESURVEY, REGISTRY = "pretix_test", "kobo_test", "limesurvey_test", "registry_test"
ENV = {
    "pretix": {"token": "ENGAGE_DEMO_WAREHOUSE_PRETIX_TOKEN"},
    "kobotoolbox": {"token": "ENGAGE_DEMO_WAREHOUSE_KOBO_TOKEN"},
    "limesurvey": {
        "username": "ENGAGE_DEMO_WAREHOUSE_LS_USER",
        "password": "ENGAGE_DEMO_WAREHOUSE_LS_PASSWORD",
    },
}


@dataclass(frozen=True)
class DemoWarehouse:
    config: PipelineConfig
    summary: RunSummary


def demo_config(folder: Path, simulator: object) -> PipelineConfig:
    """A config with every demo source (pretix, KoboToolbox, LimeSurvey, registry inbox) in `folder`."""
    from simulator.registry_files import write_inbox
    from simulator.server import DEMO_CREDENTIALS

    for kind, variables in ENV.items():
        for field, variable in variables.items():
            os.environ[variable] = DEMO_CREDENTIALS[kind][field]
    inbox = folder / "inbox"
    write_inbox(inbox)
    sources = {
        PRETIX: {
            "kind": "pretix",
            "base_url": simulator.pretix_url,  # type: ignore[attr-defined]
            "organizer": "ecccn",
            "credentials": {"token_env": ENV["pretix"]["token"]},
            "http": {"page_size": 500, "backoff_factor": 0.01},
        },
        KOBO: {
            "kind": "kobotoolbox",
            "base_url": simulator.kobo_url,  # type: ignore[attr-defined]
            "credentials": {"token_env": ENV["kobotoolbox"]["token"]},
            "http": {"page_size": 1000, "backoff_factor": 0.01},
        },
        LIMESURVEY: {
            "kind": "limesurvey",
            "base_url": f"{simulator.base_url}/limesurvey/index.php/admin/remotecontrol",  # type: ignore[attr-defined]
            "credentials": {
                "username_env": ENV["limesurvey"]["username"],
                "password_env": ENV["limesurvey"]["password"],
            },
            "http": {"page_size": 500, "backoff_factor": 0.01},
        },
        REGISTRY: {"kind": "registry", "inbox": str(inbox)},
    }
    surveys = simulator_surveys(kobo=KOBO, limesurvey=LIMESURVEY)
    path = write_config(folder, simulator.pretix_url, sources=sources, surveys=surveys, demo=True)
    return load_config(path)


def build_demo_warehouse(folder: Path) -> DemoWarehouse:
    """Start a simulator of its own, run the whole pipeline once into `folder`, stop the simulator."""
    from simulator.server import start_simulator

    with start_simulator(port=0) as handle:
        config = demo_config(folder, handle)
        summary = run_pipeline(config)
    return DemoWarehouse(config, summary)
