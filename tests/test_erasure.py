"""Erasure of one person through the real path: simulator -> landing -> DuckDB -> dbt -> published."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from engage.cli import app
from engage.config import PipelineConfig, load_config
from engage.extract import extract_stream
from engage.landing.batches import committed_manifests
from engage.pipeline import run_pipeline
from engage.privacy.erasure import erase_person, pseudonyms_for
from engage.privacy.scan import scan
from engage.warehouse.loader import load_pending, verify_batch
from tests.conftest import write_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dataset():
    from simulator.pretix_data import generate

    return generate()


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory, simulator) -> PipelineConfig:
    config = load_config(write_config(tmp_path_factory.mktemp("erasure"), simulator.pretix_url))
    run_pipeline(config)
    return config


def _rows(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _pick_person(config: PipelineConfig, dataset) -> str:
    """Someone who attended, listed on a group order someone else bought, never a group's buyer."""
    group_buyers = {o.person.email for o in dataset.orders if len(o.positions) > 1}
    candidates = [
        p.person.email
        for o in dataset.orders
        if len(o.positions) > 1
        for p in o.positions
        if p.person.email != o.person.email and p.person.email not in group_buyers
    ]
    for email in candidates:
        [pseudonym] = pseudonyms_for(config, email)
        attended = _rows(
            config.marts_path,
            "select count(*) from fct_participation where person_key = ? and is_attended",
            [pseudonym],
        )[0][0]
        if attended:
            return email
    raise AssertionError("no suitable attendee in the simulator's dataset")


def _holds(config: PipelineConfig, needle: str) -> list[str]:
    """Every place (file or table) whose content contains the text."""
    places = []
    for part in config.landing_dir.rglob("*.ndjson.gz"):
        with gzip.open(part, "rb") as handle:
            if needle.encode() in handle.read():
                places.append(str(part))
    for database in (config.warehouse_path, config.marts_path):
        with duckdb.connect(str(database), read_only=True) as con:
            tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
            for schema, table in tables:
                hit = con.execute(
                    f'select count(*) from "{schema}"."{table}" t where t::varchar like ?', [f"%{needle}%"]
                ).fetchone()[0]
                if hit:
                    places.append(f"{database.name}:{schema}.{table}")
    with duckdb.connect() as con:
        for parquet in config.published_dir.glob("parquet-*/*.parquet"):
            sql = "select count(*) from read_parquet(?) t where t::varchar like ?"
            hit = con.execute(sql, [str(parquet), f"%{needle}%"]).fetchone()[0]
            if hit:
                places.append(str(parquet))
    return places


def test_erasing_a_person_removes_them_everywhere_and_nothing_else(ran: PipelineConfig, dataset) -> None:
    config = ran
    email = _pick_person(config, dataset)
    [pseudonym] = pseudonyms_for(config, email)
    assert _holds(config, pseudonym)  # the person is there before
    participation = "select * from fct_participation"
    before = Counter(_rows(config.marts_path, participation))
    theirs = Counter(
        _rows(config.marts_path, "select * from fct_participation where person_key = ?", [pseudonym])
    )
    assert theirs

    summary = erase_person(config, email)

    assert summary.landing_batches_rewritten >= 2  # orders (one position of a group order) and check-ins
    assert summary.landing_records_changed >= 1  # the group order stays, without their position
    assert _holds(config, pseudonym) == []
    assert Counter(_rows(config.marts_path, participation)) == before - theirs
    # The rewritten batches still match their manifests, and the loader does not load them again.
    for directory, manifest in committed_manifests(config.landing_dir):
        verify_batch(directory, manifest)
    assert load_pending(config) == []
    [record] = _rows(config.warehouse_path, "select * from audit.erasures")
    text = repr(record).lower()
    assert pseudonym not in text and email.lower() not in text
    assert record[4] == summary.raw_rows_removed and record[4] > 0
    assert len(list(config.published_dir.glob("parquet-*"))) == 1  # older Parquet versions went too

    again = erase_person(config, email)
    assert again.total_removed == 0
    assert len(_rows(config.warehouse_path, "select * from audit.erasures")) == 2

    # The partner still has them: the next extraction drops them (suppression list).
    checkins = extract_stream(config, "pretix_test", "checkins")
    assert checkins.note == "unchanged snapshot"  # the same as the rewritten snapshot, byte for byte
    for stream in ("events", "orders"):
        extract_stream(config, "pretix_test", stream)
    assert _holds(config, pseudonym) == []


def test_the_scan_finds_no_email_name_or_secret(ran: PipelineConfig, dataset) -> None:
    from simulator.server import DEMO_CREDENTIALS

    names = {p.full_name for o in dataset.orders for p in [o.person, *(x.person for x in o.positions)]}
    secrets = {v for creds in DEMO_CREDENTIALS.values() for v in creds.values()}
    assert len(names) > 1_000
    assert scan(ran, names=names, secrets=secrets) == []


def test_the_scan_does_find_what_it_looks_for(tmp_path: Path, simulator) -> None:
    empty = load_config(write_config(tmp_path, simulator.pretix_url))  # no data: only the log below
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "run.log").write_text('user "Ada Lovelace" token=demo-pretix-token mail ada@example.org\n')
    found = scan(empty, names={"Ada Lovelace"}, secrets={"demo-pretix-token"}, extra_folders=[logs])
    assert {f.kind for f in found if f.place.endswith("run.log")} == {"name", "secret", "email"}
    assert all("demo-pretix-token" not in f.excerpt for f in found)


def test_erase_without_a_key_names_the_environment_variable(tmp_path: Path, simulator, monkeypatch) -> None:
    path = write_config(tmp_path, simulator.pretix_url)
    data = yaml.safe_load(path.read_text())
    data["privacy"] = {"allow_demo_key": False, "key_env": "ENGAGE_TEST_ERASURE_KEY"}
    path.write_text(yaml.safe_dump(data))
    monkeypatch.delenv("ENGAGE_TEST_ERASURE_KEY", raising=False)
    result = CliRunner().invoke(app, ["erase", "--config", str(path), "--email", "someone@example.org"])
    assert result.exit_code == 2
    assert "ENGAGE_TEST_ERASURE_KEY" in result.output
