"""Erasure of one person through the real path: simulator -> landing -> DuckDB -> dbt -> published.

The simulator is read through a small proxy that plants the person where a real partner system
would: in another order's comment and in another respondent's free-text survey answer."""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tests.conftest import TOKEN_ENV, write_config
from tests.scripted_server import scripted_server
from tests.simulator_forms import simulator_surveys

# Two full runs' worth of work through a proxy, and two erasures with a dbt build each.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def dataset():
    from simulator.pretix_data import generate

    return generate()


KOBO_TOKEN_ENV = "ENGAGE_TEST_ERASURE_KOBO_TOKEN"


@pytest.fixture(scope="module")
def victim(dataset) -> Any:
    """Someone who attended, on a group order someone else bought, never a group's buyer."""
    group_buyers = {o.person.email for o in dataset.orders if len(o.positions) > 1}
    for order in dataset.orders:
        if len(order.positions) < 2 or order.status != "p" or order.testmode:
            continue
        for position in order.positions:
            person = position.person
            if person.email not in group_buyers and person.email != order.person.email and position.checkins:
                return person
    raise AssertionError("no suitable attendee in the simulator's dataset")


def _planting(simulator: Any, victim: Any) -> Any:
    """A proxy answer for the simulator that plants the victim in other people's text."""
    import requests

    from simulator.kobo_api import DEMO_KOBO_TOKEN

    planted: dict[str, Any] = {}
    mention = f"Thanks to {victim.full_name} ({victim.email}), call +32 470 12 34 56"

    def answer(path: str, n: int) -> tuple[int, dict[str, str], object]:
        token = DEMO_KOBO_TOKEN if path.startswith("/kobo") else simulator.pretix_token
        upstream = requests.get(
            simulator.base_url.rstrip("/") + path, headers={"Authorization": f"Token {token}"}, timeout=30
        )
        own_links = upstream.content.replace(
            simulator.base_url.rstrip("/").encode(), proxy_base.rstrip("/").encode()
        )
        if "/orders/" not in path and "/data/" not in path:
            return upstream.status_code, {}, own_links  # nothing to plant: passed through as it is
        body = upstream.json()
        for record in body.get("results", []) if isinstance(body, dict) else []:
            code = record.get("code")
            other = code and record.get("email") != victim.email
            if "/orders/" in path and other and planted.setdefault("order", code) == code:
                record["comment"] = f"Please also register {victim.full_name} <{victim.email}>"
            uuid = record.get("_uuid")
            if "comments/improvements" in record and planted.setdefault("submission", uuid) == uuid:
                record["comments/improvements"] = mention
        text = json.dumps(body).replace(simulator.base_url.rstrip("/"), proxy_base.rstrip("/"))
        return upstream.status_code, {}, text.encode()

    proxy_base = ""

    def bind(base: str) -> None:
        nonlocal proxy_base
        proxy_base = base

    answer.bind = bind  # type: ignore[attr-defined]
    answer.planted = planted  # type: ignore[attr-defined]
    return answer


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory, simulator, victim) -> Iterator[PipelineConfig]:
    from simulator.kobo_api import DEMO_KOBO_TOKEN

    os.environ[KOBO_TOKEN_ENV] = DEMO_KOBO_TOKEN
    answer = _planting(simulator, victim)
    with scripted_server(answer) as (proxy, _):
        answer.bind(proxy)
        sources = {
            "pretix_test": {
                "kind": "pretix",
                "base_url": proxy + "pretix/api/v1/",
                "organizer": "ecccn",
                "credentials": {"token_env": TOKEN_ENV},
                "http": {"page_size": 500, "backoff_factor": 0.01},
                "streams": ["events", "orders", "checkins"],  # the reconciliation snapshot is erased too
            },
            "kobo_test": {
                "kind": "kobotoolbox",
                "base_url": proxy + "kobo/",
                "credentials": {"token_env": KOBO_TOKEN_ENV},
                "http": {"page_size": 1000, "backoff_factor": 0.01},
            },
        }
        folder = tmp_path_factory.mktemp("erasure")
        surveys = simulator_surveys(kobo="kobo_test")  # the forms, as a deployment lists them
        config = load_config(write_config(folder, simulator.pretix_url, sources=sources, surveys=surveys))
        run_pipeline(config)
        assert set(answer.planted) == {"order", "submission"}
        yield config


def _rows(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _pick_person(config: PipelineConfig, victim) -> str:
    [pseudonym] = pseudonyms_for(config, victim.email)
    attended = _rows(
        config.marts_path,
        "select count(*) from fct_participation where person_key = ? and is_attended",
        [pseudonym],
    )[0][0]
    assert attended, "the victim attended"
    return victim.email


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


def test_erasing_a_person_removes_them_everywhere_and_nothing_else(ran: PipelineConfig, victim) -> None:
    config = ran
    email = _pick_person(config, victim)
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


def _texts_under(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every file under the folder as text: gzip unpacked, DuckDB and Parquet by their rows (their
    pages are compressed, so the bytes alone could hide a value), everything else as bytes."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        yield path, data.decode("utf-8", "replace")
        if path.suffix == ".parquet":
            with duckdb.connect() as con:
                rows = con.execute("select t::varchar from read_parquet(?) t", [str(path)]).fetchall()
            yield path, "\n".join(r[0] for r in rows)
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
                for schema, table in tables:
                    rows = con.execute(f'select t::varchar from "{schema}"."{table}" t').fetchall()
                    yield path, "\n".join(r[0] for r in rows)


def test_erasure_leaves_no_trace_under_data(ran: PipelineConfig, victim, monkeypatch) -> None:
    """The person named in other people's text too: after `engage erase --email --name`, no file
    under the data folder (logs, dbt's log, landing, warehouse, published copy) holds the email,
    the name or the pseudonyms, and the scan finds nothing."""
    config = ran
    folder = config.warehouse_path.parent
    pseudonyms = pseudonyms_for(config, victim.email, victim.full_name)
    name_before = [p for p, text in _texts_under(config.landing_dir) if victim.full_name in text]
    assert name_before, "the name was planted in another respondent's kept answer"
    argv = ["engage", "erase", "--config", str(folder / "pipeline.yml"), "--email", victim.email,
            "--name", victim.full_name]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)  # what dbt would log as its invocation command
    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 0, result.output
    assert victim.email not in result.output and victim.full_name not in result.output
    needles = [victim.email.lower(), victim.full_name.lower(), *pseudonyms]
    assert (folder / "dbt" / "logs" / "dbt.log").is_file()
    found = [(str(p), n) for p, text in _texts_under(folder) for n in needles if n in text.lower()]
    assert found == []
    # The other respondent's answer stays, with the person taken out of it.
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        kept = con.execute(
            "select count(*) from raw.kobotoolbox__submissions "
            "where record::varchar like '%Thanks to [erased] ([email]), call [phone]%'"
        ).fetchone()[0]
    assert kept >= 1
    assert scan(config, names={victim.full_name}) == []


def test_the_scan_finds_no_email_name_or_secret(ran: PipelineConfig, dataset, victim) -> None:
    from simulator.server import DEMO_CREDENTIALS

    names = {p.full_name for o in dataset.orders for p in [o.person, *(x.person for x in o.positions)]}
    # The victim's name was planted in another respondent's answer on purpose; it stays there until
    # the erasure test takes it out, so this test does not depend on running after that one.
    names.discard(victim.full_name)
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


def test_scan_from_the_cli_finds_names_in_text_and_reads_airflow_task_logs(
    tmp_path: Path, simulator, monkeypatch
) -> None:
    path = write_config(tmp_path, simulator.pretix_url)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "run.log").write_text("INFO note: Dear ana  SILVA, welcome\n", encoding="utf-8")
    task_logs = tmp_path / "airflow-logs" / "dag_id=engage_pretix" / "run_id=x" / "task_id=orders"
    task_logs.mkdir(parents=True)
    (task_logs / "attempt=1.log").write_text('{"event": "mail buyer@example.org"}\n', encoding="utf-8")
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(tmp_path / "airflow-logs"))
    names = tmp_path / "names.txt"
    names.write_text("Ana Silva\nBob Example\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["scan", "--config", str(path), "--names-file", str(names)])
    assert result.exit_code == 1
    assert "name: ana silva" in result.output and "run.log" in result.output
    assert "email: buyer@example.org" in result.output and "attempt=1.log" in result.output
    assert "bob example" not in result.output
    (tmp_path / "logs" / "run.log").write_text("INFO nothing personal, Anastasia Silvano\n", encoding="utf-8")
    (task_logs / "attempt=1.log").write_text("ok\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["scan", "--config", str(path), "--names-file", str(names)])
    assert result.exit_code == 0, result.output
