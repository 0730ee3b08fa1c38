"""Incremental dbt builds equal a full refresh, through the real path (issue 16 item 2).

A refresh rebuilds only what the systems loaded since the last build feed, and the base models of
the incremental streams re-derive only the keys loaded since (engage/warehouse/build_plan.py,
dbt_project/macros/current_records.sql). Here every source of the demo runs against a simulator
of its own through a sequence of loads, updates at the sources (check-ins, cancellations, new
survey submissions) and an erasure; after each incremental refresh, every table dbt built is
compared row for row with a `--full-refresh` build of a copy of the same warehouse.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
import yaml
from typer.testing import CliRunner

from engage.cli import app
from engage.config import PipelineConfig, load_config
from engage.pipeline import run_pipeline
from engage.privacy.erasure import erase_person, pseudonyms_for
from engage.warehouse.build_plan import (
    CHANGED,
    EVERYTHING,
    FULL_REFRESH,
    NOTHING,
    plan_build,
    record_build,
)
from engage.warehouse.dbt import build
from engage.warehouse.schema import ensure_schemas

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

BUILT_SCHEMAS = ("staging", "intermediate", "marts")


def _last_build(config: PipelineConfig) -> tuple[str, str]:
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        return con.execute(
            "select kind, systems from audit.dbt_builds order by started_at desc limit 1"
        ).fetchone()


def _differences(incremental: Path, full: Path) -> dict[str, int]:
    """Per built table: rows in one warehouse and not in the other (both ways, with duplicates)."""
    with duckdb.connect(":memory:") as con:
        con.execute("attach ? as incremental (read_only)", [str(incremental)])
        con.execute("attach ? as full_refresh (read_only)", [str(full)])
        tables = {
            catalog: {
                f"{schema}.{name}"
                for schema, name in con.execute(
                    "select table_schema, table_name from information_schema.tables "
                    "where table_catalog = ? and table_type = 'BASE TABLE' and table_schema in ?",
                    [catalog, list(BUILT_SCHEMAS)],
                ).fetchall()
            }
            for catalog in ("incremental", "full_refresh")
        }
        assert tables["incremental"] == tables["full_refresh"]
        assert len(tables["incremental"]) > 40  # every staging, intermediate and mart table
        return {
            table: con.execute(
                f"select count(*) from ((from incremental.{table} except all from full_refresh.{table}) "
                f"union all (from full_refresh.{table} except all from incremental.{table}))"
            ).fetchone()[0]
            for table in sorted(tables["incremental"])
        }


def _full_refresh_of_a_copy(config: PipelineConfig, folder: Path) -> Path:
    """The same warehouse (raw tables and all) copied aside and rebuilt from raw."""
    folder.mkdir()
    copy = folder / "warehouse.duckdb"
    shutil.copyfile(config.warehouse_path, copy)
    data = yaml.safe_load(Path(config.config_path).read_text(encoding="utf-8"))
    data["paths"] = {**data["paths"], "warehouse": str(copy)}
    path = folder / "pipeline.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    build(load_config(path), full_refresh=True)
    return copy


def _check_in_and_cancel(simulator: Any, codes: list[str], cancel: list[str]) -> None:
    with requests.Session() as session:
        for code in codes:
            session.post(
                f"{simulator.base_url}/_sim/pretix/orders/{code}/checkin", json={}, timeout=30
            ).raise_for_status()
        for code in cancel:
            url = f"{simulator.base_url}/_sim/pretix/orders/{code}/cancel"
            session.post(url, timeout=30).raise_for_status()


def _add_submissions(simulator: Any, dataset: Any, count: int) -> None:
    from simulator.kobo_data import generate as generate_kobo

    asset = generate_kobo(dataset).assets[0]
    for n in range(count):
        requests.post(
            f"{simulator.base_url}/_sim/kobo/assets/{asset.uid}/submissions",
            json={"activity/activity_code": "p1-2019-004", "respondent/email": f"late.{n}@example.org"},
            timeout=30,
        ).raise_for_status()


def _group_attendee(dataset: Any) -> tuple[Any, Any]:
    """An attendee on a paid group order someone else bought, and that order."""
    buyers = {o.person.email for o in dataset.orders if len(o.positions) > 1}
    for order in dataset.orders:
        if order.code and order.status == "p" and not order.testmode and len(order.positions) > 1:
            for position in order.positions:
                if position.person.email not in buyers and position.person.email != order.person.email:
                    return position.person, order
    raise AssertionError("no group attendee in the simulator's dataset")


def test_incremental_refreshes_equal_a_full_refresh_after_loads_updates_an_erasure(tmp_path: Path) -> None:
    from simulator.pretix_data import generate
    from simulator.server import start_simulator
    from tests.demo_warehouse import demo_config

    dataset = generate()
    paid = [o.code for o in dataset.orders if o.code and o.status == "p" and not o.testmode and o.positions]
    person, group_order = _group_attendee(dataset)
    paid = [code for code in paid if code != group_order.code]
    # disjoint sets of orders: to check in, to cancel, to check in and to cancel after the erasure
    picks = random.Random("incremental-build").sample(paid, 60 + 5 + 20 + 3)
    with start_simulator(port=0) as simulator:
        config = demo_config(tmp_path / "run", simulator)
        data = yaml.safe_load(Path(config.config_path).read_text(encoding="utf-8"))
        data["demo"] = False  # the demo's headline figures move with the changes made here
        Path(config.config_path).write_text(yaml.safe_dump(data), encoding="utf-8")
        config = load_config(config.config_path)

        first = run_pipeline(config)
        assert _last_build(config) == (FULL_REFRESH, "")  # the first build reads everything
        full_nodes = len(first.dbt_nodes)

        # loads and updates: new check-ins (some on orders checked in before), cancellations,
        # new survey submissions
        _check_in_and_cancel(simulator, picks[:60], picks[60:65])
        _add_submissions(simulator, dataset, 3)
        second = run_pipeline(config)
        assert _last_build(config) == (CHANGED, "kobotoolbox.assets,kobotoolbox.submissions,pretix.orders")
        assert 0 < len(second.dbt_nodes) < full_nodes  # LimeSurvey and registry models untouched
        rebuilt = _full_refresh_of_a_copy(config, tmp_path / "full-1")
        differences = _differences(config.warehouse_path, rebuilt)
        assert {table: rows for table, rows in differences.items() if rows} == {}

        # an erasure rewrites raw rows in place: it rebuilds from raw, and the next incremental
        # refresh (the erased person's group order changed again) still equals a full refresh
        erase_person(config, person.email, person.full_name)
        assert _last_build(config) == (FULL_REFRESH, "")
        _check_in_and_cancel(simulator, [group_order.code, *picks[65:85]], picks[85:])
        third = run_pipeline(config)
        assert _last_build(config) == (CHANGED, "pretix.orders")
        built = {node.name for node in third.dbt_nodes}
        assert (
            "fct_participation" in built and "int_survey_responses_unioned" not in built
        )  # events unchanged
        rebuilt = _full_refresh_of_a_copy(config, tmp_path / "full-2")
        differences = _differences(config.warehouse_path, rebuilt)
        assert {table: rows for table, rows in differences.items() if rows} == {}
        needles = pseudonyms_for(config, person.email, person.full_name)
        with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
            orders = con.execute("select record::varchar from staging.base_pretix__orders_current").fetchall()
        assert orders and not any(needle in text for (text,) in orders for needle in needles)

        # nothing new: no build at all (the run skips dbt), and a forced rebuild builds everything
        assert run_pipeline(config).skipped
        run_pipeline(config, rebuild=True)
        assert _last_build(config)[0] == EVERYTHING

        # the CLI: nothing loaded since the last build, then a full refresh asked for
        cli = CliRunner()
        nothing = cli.invoke(app, ["transform", "--config", str(config.config_path)])
        assert nothing.exit_code == 0, nothing.output
        assert "nothing to build" in nothing.output
        refreshed = cli.invoke(app, ["transform", "--config", str(config.config_path), "--full-refresh"])
        assert refreshed.exit_code == 0, refreshed.output
        assert _last_build(config)[0] == FULL_REFRESH


def test_the_plan_follows_the_loads_and_the_project_fingerprint(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_schemas(con)
        assert plan_build(con, "a").kind == FULL_REFRESH  # no build yet

        built = datetime.now(UTC) - timedelta(hours=1)
        record_build(con, plan_build(con, "a"), built)
        assert plan_build(con, "a").kind == NOTHING  # nothing loaded since
        assert plan_build(con, "b").kind == FULL_REFRESH  # the project or its vars changed
        assert plan_build(con, "a", everything=True).kind == EVERYTHING
        assert plan_build(con, "a", full_refresh=True).kind == FULL_REFRESH

        for batch, system, loaded_at in [
            ("b1", "pretix", built - timedelta(minutes=5)),  # in the last build
            ("b2", "kobotoolbox", built + timedelta(minutes=5)),
            ("b3", "registry", built + timedelta(minutes=6)),
        ]:
            con.execute(
                "insert into audit.batches (batch_id, source_instance, system, stream, mode, "
                "manifest_rows, loaded_rows, quarantined_rows, loaded_at) "
                "values (?, 's', ?, 'x', 'incremental', 1, 1, 0, ?)",
                [batch, system, loaded_at],
            )
        plan = plan_build(con, "a")
        assert (plan.kind, plan.streams) == (CHANGED, ("kobotoolbox.x", "registry.x"))
        arguments = plan.dbt_arguments(["tag:demo_figures"])
        assert arguments == [
            "--select",
            "source:kobotoolbox.x+",
            "source:registry.x+",
            "--exclude",
            "tag:demo_figures",
            "--exclude-resource-type",
            "unit_test",
        ]
        assert plan_build(con, "a", full_refresh=True).dbt_arguments([]) == ["--full-refresh"]
