"""Shared fixtures: a live simulator, a pipeline configuration in a temporary folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engage.config import PipelineConfig, load_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TOKEN_ENV = "ENGAGE_TEST_PRETIX_TOKEN"

# Airflow and dbt read these at import or run time: keep them off the user's own setup.
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# A throw-away Airflow home (SQLite metadata database) for the whole test session; one per
# pytest-xdist worker, so two workers never reset the same database.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix=f"engage-airflow-{_WORKER}-")
else:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="engage-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT_ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")


@pytest.fixture(scope="session")
def simulator() -> Iterator[object]:
    from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

    os.environ[TOKEN_ENV] = DEMO_PRETIX_TOKEN
    with start_simulator(port=0) as handle:
        yield handle


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh Airflow metadata database (SQLite in the session's AIRFLOW_HOME) and the writer pool."""
    from airflow.models.pool import Pool
    from airflow.utils.db import resetdb

    resetdb(skip_init=False)
    Pool.create_or_update_pool("engage_writer", slots=1, description="DuckDB writer", include_deferred=False)


def write_config(folder: Path, pretix_url: str, **overrides: object) -> Path:
    """A pipeline config whose data all lives in `folder` (absolute paths)."""
    data: dict = {
        "paths": {
            "landing": str(folder / "landing"),
            "warehouse": str(folder / "warehouse.duckdb"),
            "marts": str(folder / "marts.duckdb"),
            "published": str(folder / "published"),
        },
        "privacy": {"allow_demo_key": True},
        "dbt_project_dir": str(PROJECT_ROOT / "dbt_project"),
        "sources": {
            "pretix_test": {
                "kind": "pretix",
                "base_url": pretix_url,
                "organizer": "ecccn",
                "credentials": {"token_env": TOKEN_ENV},
                "http": {"page_size": 500, "backoff_factor": 0.01},
            }
        },
    }
    data.update(overrides)
    path = folder / "pipeline.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def pipeline_config(tmp_path: Path, simulator: object) -> PipelineConfig:
    return load_config(write_config(tmp_path, simulator.pretix_url))


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """The whole demo (pretix, KoboToolbox, LimeSurvey, registry) built once; read it, never change it."""
    from tests.demo_warehouse import build_demo_warehouse

    return build_demo_warehouse(tmp_path_factory.mktemp("demo_warehouse"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`), keep each module on one worker, so its module-scoped
    fixtures (a simulator, a pipeline run) are built once; modules sharing the demo warehouse name
    the group `demo_warehouse` themselves and run on one worker together."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
