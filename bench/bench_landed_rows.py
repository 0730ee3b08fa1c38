"""Benchmark: rows landed by one daily pretix run, check-in snapshot vs the order feed alone.

pretix's check-ins touch their order's `last_modified` (measured on 2026.8.0), and an order's
positions carry the check-ins of every check-in list, so the incremental `orders` stream already
lands every new check-in. The `checkins` snapshot stream re-lands every checked-in position of
every list whenever one check-in changed. This runs the demo simulator, lands the first full
extraction, then one "day" (a few scans on an event with two check-in lists, an exit scan and a
cancellation), and counts the rows each way lands for that day. It also checks that each new
check-in is in the landed orders (the order feed is complete), and fails if not.

Figures go to bench/results/landed_rows.json (and the terminal). No test asserts them.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from engage.config import load_config
from engage.extract import extract_stream
from engage.landing.batches import committed_manifests
from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

RESULTS = Path(__file__).resolve().parent / "results" / "landed_rows.json"
TOKEN_ENV = "ENGAGE_BENCH_PRETIX_TOKEN"
SCANS = int(os.environ.get("BENCH_SCANS", "20"))


def _config(folder: Path, pretix_url: str) -> Any:
    text = f"""
paths: {{landing: landing, warehouse: warehouse.duckdb, marts: marts.duckdb, published: published}}
privacy: {{key_env: ENGAGE_BENCH_KEY, allow_demo_key: true}}
dbt_project_dir: {Path(__file__).resolve().parents[1] / "dbt_project"}
sources:
  pretix_bench:
    kind: pretix
    base_url: {pretix_url}
    organizer: ecccn
    credentials: {{token_env: {TOKEN_ENV}}}
    streams: [events, orders, checkins]
"""
    path = folder / "pipeline.yml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _landed(config: Any, stream: str, batch_id: str | None) -> list[dict[str, Any]]:
    import gzip

    if batch_id is None:
        return []
    rows = []
    for part in (config.landing_dir / "pretix_bench" / stream).glob(f"batch={batch_id}/part-*.ndjson.gz"):
        with gzip.open(part, "rt", encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle]
    return rows


def _one_day(sim: Any) -> set[int]:
    """Scans on a two-list event, an exit, a cancellation; returns the new check-in ids."""
    auth = {"Authorization": f"Token {DEMO_PRETIX_TOKEN}"}
    api = f"{sim.pretix_url}organizers/ecccn/"
    events = requests.get(f"{api}events/", headers=auth, params={"page_size": 50}, timeout=30).json()
    event = next(e for e in events["results"] if e["date_from"][:10] != e["date_to"][:10])
    lists = requests.get(f"{api}events/{event['slug']}/checkinlists/", headers=auth, timeout=30).json()
    orders = requests.get(
        f"{api}events/{event['slug']}/orders/", headers=auth, params={"status": "p"}, timeout=30
    ).json()["results"]
    new_ids: set[int] = set()
    for number, order in enumerate(orders[:SCANS]):
        list_id = lists["results"][number % len(lists["results"])]["id"]
        kind = "exit" if number == 0 else "entry"
        answer = requests.post(
            f"{sim.base_url}/_sim/pretix/orders/{order['code']}/checkin",
            json={"list": list_id, "type": kind},
            timeout=30,
        )
        answer.raise_for_status()
        new_ids |= {c["id"] for p in answer.json()["positions"] for c in p["checkins"]}
        new_ids -= {c["id"] for p in order["positions"] for c in p["checkins"]}
    requests.post(
        f"{sim.base_url}/_sim/pretix/orders/{orders[-1]['code']}/cancel", timeout=30
    ).raise_for_status()
    return new_ids


def main() -> dict[str, Any]:
    os.environ[TOKEN_ENV] = DEMO_PRETIX_TOKEN
    with tempfile.TemporaryDirectory() as folder, start_simulator(port=0) as sim:
        config = _config(Path(folder), sim.pretix_url)
        started = time.perf_counter()
        first = {
            s: extract_stream(config, "pretix_bench", s).records for s in ("events", "orders", "checkins")
        }
        first_seconds = time.perf_counter() - started
        new_checkins = _one_day(sim)
        day = {s: extract_stream(config, "pretix_bench", s) for s in ("orders", "checkins")}
        landed_orders = _landed(config, "orders", day["orders"].batch_id)
        carried = {c["id"] for o in landed_orders for p in o.get("positions", []) for c in p["checkins"]}
        missing = sorted(new_checkins - carried)
        batches = sum(1 for _ in committed_manifests(config.landing_dir, "pretix_bench", "checkins"))
        result = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "first_run_rows": first,
            "first_run_seconds": round(first_seconds, 1),
            "day": {"scans": SCANS, "new_checkins": len(new_checkins), "cancellations": 1},
            "daily_rows_before": {  # orders feed + the check-in snapshot re-landed
                "orders": day["orders"].records,
                "checkins": day["checkins"].records,
                "total": day["orders"].records + day["checkins"].records,
            },
            "daily_rows_after": {"orders": day["orders"].records, "total": day["orders"].records},
            "checkin_snapshot_batches": batches,
            "new_checkins_missing_from_the_order_feed": missing,
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    if missing:
        raise SystemExit(f"the order feed lacks {len(missing)} new check-in(s): {missing[:5]}")
    return result


if __name__ == "__main__":
    main()
