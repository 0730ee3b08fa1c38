"""Benchmark: the warehouse DAG under a live Airflow against the command line, in one run.

Figures go to bench/results/airflow.json (and the terminal):

* `cli_seconds`: load + transform (dbt build) + publish (with the docs page), as `engage run`
  does them, on a freshly landed demo pretix source;
* `warehouse_dag_seconds`: the same work by `engage_warehouse` under a live scheduler
  (tests/live_airflow.py: api-server, scheduler, dag-processor, LocalExecutor), from the asset
  event of a whole source run to the end of `publish` - on a fresh warehouse over the same landing;
* `ratio` (goal <= 1.5);
* `push_to_marts_seconds`: a signed pretix push to the receiver -> asset event -> warehouse run
  -> published marts (goal < 300);
* `dag_parse_seconds`: importing dags/engage_warehouse.py once Airflow itself is imported (what a
  dag-processor pays per parse).

    make bench     # or: .venv/bin/python bench/bench_airflow.py
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

from engage.config import load_config  # noqa: E402
from tests.conftest import TOKEN_ENV, write_config  # noqa: E402
from tests.live_airflow import LiveAirflow, pretix_order_push  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "airflow.json"
EXTRACT, WAREHOUSE = "engage_extract_pretix_test", "engage_warehouse"
PUSH_SECRET = "bench-push-secret"


def _seconds(run: dict[str, Any]) -> float:
    from datetime import datetime

    return (
        datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])
    ).total_seconds()


def dag_parse_seconds(home: Path) -> dict[str, float]:
    """Wall and CPU seconds to import the warehouse DAG file (wall includes other jobs' load)."""
    code = (
        "import time, airflow.sdk\n"
        "w, c = time.perf_counter(), time.process_time(); import dags.engage_warehouse\n"
        "print(time.perf_counter() - w, time.process_time() - c)"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    wall, cpu = (float(x) for x in done.stdout.strip().splitlines()[-1].split())
    return {"wall": round(wall, 3), "cpu": round(cpu, 3)}


def cli_seconds(config_path: Path) -> float:
    from engage.extract import extract_stream
    from engage.pipeline import configured_streams
    from engage.warehouse.dbt import build, generate_docs
    from engage.warehouse.loader import load_pending
    from engage.warehouse.publish import publish

    config = load_config(config_path)
    for source, stream in configured_streams(config):
        extract_stream(config, source, stream)
    started = time.monotonic()
    load_pending(config)
    build(config)
    publish(config, docs_page=generate_docs(config))
    return time.monotonic() - started


def push_seconds(airflow: LiveAirflow, config_path: Path, simulator: Any) -> float:
    from engage.orchestration.asset_events import AirflowAssetEvents
    from engage.webhooks.receiver import serve_in_thread, sign

    config = load_config(config_path)
    os.environ[config.webhooks.secret_env("pretix_test")] = PUSH_SECRET
    body = pretix_order_push(simulator, 7001)
    before = len(airflow.runs(WAREHOUSE))
    hook = AirflowAssetEvents(airflow.api_url, username="admin", password=airflow.password)
    with serve_in_thread(config, hook) as url:
        started = time.monotonic()
        answer = requests.post(
            f"{url}/webhooks/pretix/pretix_test",
            data=body,
            headers={"Content-Type": "application/json", "X-Engage-Signature": sign(PUSH_SECRET, body)},
            timeout=60,
        )
        answer.raise_for_status()
        runs = airflow.wait_idle(WAREHOUSE, at_least=before + 1, timeout=1800)
    if runs[-1]["state"] != "success":
        raise RuntimeError(f"the warehouse run after the push ended {runs[-1]['state']}")
    return time.monotonic() - started


def main() -> dict[str, Any]:
    from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

    os.environ[TOKEN_ENV] = DEMO_PRETIX_TOKEN
    work = Path(tempfile.mkdtemp(prefix="bench-airflow-"))
    try:
        with start_simulator(port=0) as simulator:
            (work / "cli").mkdir()
            (work / "dag").mkdir()
            cli_config = write_config(work / "cli", simulator.pretix_url)
            cli = cli_seconds(cli_config)
            print(f"CLI load + transform + publish: {cli:.1f} s", flush=True)
            dag_config = write_config(work / "dag", simulator.pretix_url)
            with LiveAirflow(work / "airflow", env={"ENGAGE_CONFIG": str(dag_config)}) as airflow:
                airflow.wait_dags([EXTRACT, WAREHOUSE])
                parse = dag_parse_seconds(work / "airflow")
                airflow.unpause(WAREHOUSE)
                airflow.unpause(EXTRACT)
                airflow.trigger(EXTRACT)
                airflow.wait_idle(EXTRACT, at_least=1, timeout=1800)
                [run] = airflow.wait_idle(WAREHOUSE, at_least=1, timeout=3600)
                if run["state"] != "success":
                    raise RuntimeError(f"the warehouse run ended {run['state']} (logs in {airflow.home})")
                dag = _seconds(run)
                print(f"warehouse DAG run: {dag:.1f} s (ratio {dag / cli:.2f})", flush=True)
                push = push_seconds(airflow, dag_config, simulator)
                print(f"push -> published marts: {push:.1f} s", flush=True)
        figures = {
            "cli_seconds": round(cli, 1),
            "warehouse_dag_seconds": round(dag, 1),
            "ratio": round(dag / cli, 2),
            "push_to_marts_seconds": round(push, 1),
            "dag_parse_seconds": parse,
            "machine": {
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "python": platform.python_version(),
            },
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(figures, indent=2))
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
