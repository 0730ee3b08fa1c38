"""Is there anything to refresh? Loads against the published stamp; the docs page against the project."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from engage.config import load_config
from engage.warehouse.refresh_state import docs_are_current, has_unpublished_loads
from tests.conftest import PROJECT_ROOT, write_config

STAMP = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path):
    return load_config(write_config(tmp_path, "http://127.0.0.1:9/"))


def _loaded_at(config, when: datetime | None) -> None:
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute(
            "create schema audit; create table audit.batches (batch_id varchar, loaded_at timestamptz)"
        )
        if when is not None:
            con.execute("insert into audit.batches values ('b1', ?)", [when])


def _published_at(config, when: datetime, *, parquet_swapped: bool = True) -> None:
    with duckdb.connect(str(config.marts_path)) as con:
        con.execute(
            "create table _published as select ?::timestamptz as published_at, 'v1' as version", [when]
        )
    config.published_dir.mkdir(parents=True, exist_ok=True)
    if parquet_swapped:
        (config.published_dir / "parquet").symlink_to("parquet-v1")


def test_nothing_loaded_is_nothing_to_refresh(config) -> None:
    assert not has_unpublished_loads(config)  # no warehouse yet
    _loaded_at(config, None)
    assert not has_unpublished_loads(config)


@pytest.mark.parametrize(
    ("loaded", "published", "expected"),
    [
        (STAMP, None, True),  # loaded, never published (its dbt build failed, say)
        (STAMP + timedelta(minutes=5), STAMP, True),  # loaded after the published version
        (STAMP, STAMP + timedelta(minutes=5), False),  # the published version has it
    ],
)
def test_loads_newer_than_the_published_version_need_a_refresh(config, loaded, published, expected) -> None:
    _loaded_at(config, loaded)
    if published is not None:
        _published_at(config, published)
    assert has_unpublished_loads(config) is expected


def test_a_publish_killed_before_its_parquet_swap_is_unfinished(config) -> None:
    _loaded_at(config, STAMP)
    _published_at(config, STAMP + timedelta(minutes=5), parquet_swapped=False)
    assert has_unpublished_loads(config)


def test_the_docs_page_is_current_until_the_dbt_project_changes(tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "dbt_project"
    shutil.copytree(PROJECT_ROOT / "dbt_project" / "models", project / "models")
    shutil.copy(PROJECT_ROOT / "dbt_project" / "dbt_project.yml", project / "dbt_project.yml")
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/", dbt_project_dir=str(project)))
    assert not docs_are_current(config)  # never generated
    page = config.published_dir / "docs.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>")
    assert docs_are_current(config)
    model = next((project / "models").rglob("*.sql"))
    later = page.stat().st_mtime + 10
    os.utime(model, (later, later))
    assert not docs_are_current(config)
