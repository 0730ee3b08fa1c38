"""Is there anything to refresh? The warehouse's loads against the published version's stamp.

A run that loaded nothing new skips dbt and publish, unless an earlier load was never published
(its dbt build or publish failed, or was blocked): then the next run rebuilds it.
"""

from __future__ import annotations

import os

import duckdb

from engage.config import PipelineConfig
from engage.warehouse.build_plan import project_files
from engage.warehouse.schema import release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot


def docs_are_current(config: PipelineConfig) -> bool:
    """The published docs page is newer than every file of the dbt project it describes.

    The page (`dbt docs generate --static`) holds models, columns and lineage, not data: a refresh
    after new data keeps it, and saves a second dbt process (a minute on two busy cores).
    """
    page = config.published_dir / "docs.html"
    if not page.exists():
        return False
    newest = max((path.stat().st_mtime for path in project_files(config.dbt_dir)), default=0.0)
    return page.stat().st_mtime >= newest


def has_unpublished_loads(config: PipelineConfig) -> bool:
    """True when a batch was loaded after the published version was made, nothing is published, or
    the last publish did not finish (its Parquet link does not point at its version)."""
    if not config.warehouse_path.exists():
        return False
    release_in_process_dbt()
    with writer_slot(config.warehouse_path), duckdb.connect(":memory:") as con:
        con.execute("attach ? as warehouse (read_only)", [str(config.warehouse_path)])
        known = con.execute(
            "select count(*) from information_schema.tables where table_catalog = 'warehouse' "
            "and table_schema = 'audit' and table_name = 'batches'"
        ).fetchone()[0]
        last_load = (
            con.execute("select max(loaded_at) from warehouse.audit.batches").fetchone()[0] if known else None
        )
        if last_load is None:
            return False
        if not config.marts_path.exists():
            return True
        con.execute("attach ? as published (read_only)", [str(config.marts_path)])
        published_at, version = con.execute(
            "select published_at, version from published.main._published"
        ).fetchone()
    # A publish killed between replacing the database and swapping the Parquet link is unfinished.
    link = config.published_dir / "parquet"
    finished = link.is_symlink() and os.readlink(link) == f"parquet-{version}"
    return not finished or published_at is None or last_load > published_at
