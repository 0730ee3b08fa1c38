"""SIGKILL the real `engage run` at many points, re-run it, and compare with a clean run.

A chain of runs in one folder is killed one after another (during extraction, right after a
manifest, during load, during dbt build, just after the published database was replaced, while the
temporary marts file is written), then a last run completes. Its marts must equal those of a clean
reference run, table by table (rows sorted and hashed); raw tables hold each landed line once and
every record once; audit.batches is exactly the committed manifests; no temporary marts file is
left; and at every kill the published marts.duckdb was absent (never published yet) or opened
read-only with every mart table.

CI size: pretix events and orders, six kill points. ENGAGE_RELIABILITY_FULL=1: every pretix stream
plus KoboToolbox and LimeSurvey, more points (several per stage), each chain compared.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import crash_harness as ch
from tests.conftest import TOKEN_ENV, write_config

pytestmark = pytest.mark.integration
FULL = os.environ.get("ENGAGE_RELIABILITY_FULL") == "1"
KOBO_TOKEN_ENV, LS_USER_ENV, LS_PASSWORD_ENV = (
    "ENGAGE_TEST_CRASH_KOBO_TOKEN",
    "ENGAGE_TEST_CRASH_LS_USER",
    "ENGAGE_TEST_CRASH_LS_PASSWORD",
)

CI_POINTS = [
    ch.KillPoint("extract-parts-no-manifest", ch.parts_without_manifest),
    ch.KillPoint("after-manifest", ch.new_manifest),
    ch.KillPoint("load-started", ch.warehouse_wal),
    ch.KillPoint("dbt-build", ch.dbt_nodes_run(60)),
    ch.KillPoint("publish-db-replaced", ch.marts_replaced, rebuild=True),
    ch.KillPoint("publish-temp-file", ch.temp_marts, rebuild=True),
]
FULL_POINTS = [
    ch.KillPoint("extract-parts-no-manifest", ch.parts_without_manifest),
    ch.KillPoint("extract-parts-later", ch.parts_without_manifest, delay=0.5),
    ch.KillPoint("after-manifest", ch.new_manifest),
    ch.KillPoint("after-manifest-2", ch.new_manifest),
    ch.KillPoint("after-manifest-3", ch.new_manifest, delay=0.2),
    ch.KillPoint("load-started", ch.warehouse_wal),
    ch.KillPoint("load-between-batches", ch.warehouse_wal, delay=0.3),
    ch.KillPoint("load-later", ch.warehouse_wal, delay=1.0),
    ch.KillPoint("dbt-first-node", ch.dbt_nodes_run(1)),
    ch.KillPoint("dbt-build-100", ch.dbt_nodes_run(100)),
    ch.KillPoint("dbt-build-250", ch.dbt_nodes_run(250)),
    ch.KillPoint("dbt-build-end", ch.dbt_nodes_run(370)),
    ch.KillPoint("publish-db-replaced", ch.marts_replaced, rebuild=True),
    ch.KillPoint("publish-temp-file", ch.temp_marts, rebuild=True),
    ch.KillPoint("publish-temp-file-later", ch.temp_marts, delay=0.05, rebuild=True),
    ch.KillPoint("after-publish", ch.marts_replaced, delay=0.5, rebuild=True),
]


@pytest.fixture(scope="module")
def crash_simulator() -> Iterator[object]:
    from simulator.kobo_api import DEMO_KOBO_TOKEN
    from simulator.limesurvey_api import DEMO_LIMESURVEY_PASSWORD, DEMO_LIMESURVEY_USER
    from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

    os.environ[TOKEN_ENV], os.environ[KOBO_TOKEN_ENV] = DEMO_PRETIX_TOKEN, DEMO_KOBO_TOKEN
    os.environ[LS_USER_ENV], os.environ[LS_PASSWORD_ENV] = DEMO_LIMESURVEY_USER, DEMO_LIMESURVEY_PASSWORD
    with start_simulator(port=0) as handle:
        yield handle


def _config(folder: Path, sim) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    http = {"page_size": 500, "backoff_factor": 0.01}
    sources: dict = {
        "pretix_test": {
            "kind": "pretix",
            "base_url": sim.pretix_url,
            "organizer": "ecccn",
            "credentials": {"token_env": TOKEN_ENV},
            "streams": ["events", "orders", "checkins"] if FULL else ["events", "orders"],
            "http": http,
        }
    }
    if FULL:
        sources["kobo"] = {
            "kind": "kobotoolbox",
            "base_url": sim.kobo_url,
            "credentials": {"token_env": KOBO_TOKEN_ENV},
            "streams": ["assets", "submissions"],
            "http": http,
        }
        sources["limesurvey"] = {
            "kind": "limesurvey",
            "base_url": sim.base_url + "/limesurvey/index.php/admin/remotecontrol",
            "credentials": {"username_env": LS_USER_ENV, "password_env": LS_PASSWORD_ENV},
            "streams": ["surveys", "responses"],
            "http": {**http, "page_size": 50},
        }
    return write_config(folder, sim.pretix_url, sources=sources)


def _leftovers(folder: Path) -> list[str]:
    """Temporary files a reader or the next publish could mistake for the published copy."""
    patterns = [".marts.duckdb.*", "published/.parquet.*.tmp", "published/.docs.html.*.tmp"]
    return sorted(str(p.relative_to(folder)) for pattern in patterns for p in folder.glob(pattern))


def test_sigkill_at_every_stage_then_rerun_equals_a_clean_run(tmp_path: Path, crash_simulator) -> None:
    env = ch.engage_env(TOKEN_ENV, os.environ[TOKEN_ENV])
    reference_config = _config(tmp_path / "reference", crash_simulator)
    # The clean reference runs beside the first kill points (it never sees a kill).
    reference = subprocess.Popen(
        [ch.ENGAGE, "run", "--config", str(reference_config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    config = _config(tmp_path / "crashed", crash_simulator)
    folder = config.parent
    outcomes: list[ch.KillOutcome] = []
    points = FULL_POINTS if FULL else CI_POINTS
    for point in points:
        if point.label.startswith("publish") and not ch.EXPECTED_MART_TABLES:
            output, _ = reference.communicate(timeout=600)
            assert reference.returncode == 0, output
            ch.EXPECTED_MART_TABLES.update(
                t.split(".", 1)[1] for t in ch.table_digests(tmp_path / "reference" / "marts.duckdb")
            )
        outcomes.append(ch.run_and_kill(config, env, point))
    if reference.returncode is None:
        output, _ = reference.communicate(timeout=600)
        assert reference.returncode == 0, output
    final = ch.run_engage(config, env)
    assert final.returncode == 0, final.stdout + final.stderr

    survived = [o for o in outcomes if o.killed]
    report = {
        "kill_points": [
            {
                "label": o.label,
                "killed": o.killed,
                "seconds": round(o.seconds, 2),
                "published": o.published_check,
            }
            for o in outcomes
        ],
        "survived": len(survived),
    }
    (tmp_path / "crash_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
    # Every point was really reached: the kill landed inside the run, not after it ended.
    assert [o.label for o in outcomes if not o.killed] == []
    reference_folder = tmp_path / "reference"
    # The marts: equal to the clean run's, table by table.
    assert ch.table_digests(folder / "marts.duckdb") == ch.table_digests(reference_folder / "marts.duckdb")
    assert ch.check_published_copy(folder / "marts.duckdb").startswith("complete")
    # Raw: each landed line once; as many rows and distinct records as the clean run.
    crashed_raw = ch.raw_counts(folder / "warehouse.duckdb")
    for table, (rows, distinct_lines, _) in crashed_raw.items():
        assert rows == distinct_lines, f"raw.{table}: a landed line loaded twice"
    assert crashed_raw == ch.raw_counts(reference_folder / "warehouse.duckdb")
    assert ch.table_digests(folder / "warehouse.duckdb", "marts") == ch.table_digests(
        reference_folder / "warehouse.duckdb", "marts"
    )
    assert ch.audit_matches_manifests(folder, folder / "warehouse.duckdb") > 0
    # Nothing half-written is left where a reader or the next publish would look.
    assert _leftovers(folder) == []
    link = folder / "published" / "parquet"
    with __import__("duckdb").connect(str(folder / "marts.duckdb"), read_only=True) as con:
        [version] = con.execute("select version from _published").fetchone()
    assert os.readlink(link) == f"parquet-{version}"
    assert {p.stem for p in link.glob("*.parquet")} == ch.EXPECTED_MART_TABLES
