"""Helper of scripts/smoke_celery.sh: the temp pipeline config, and the REST steps of the run.

Subcommands (the API ones read SMOKE_API_URL, SMOKE_ADMIN_USER, SMOKE_ADMIN_PASSWORD):
  config SRC DEST SIM_PORT DATA_DIR  write a copy of SRC with only pretix_demo and paths in DATA_DIR
  wait-api TIMEOUT                   wait until /api/v2/monitor/health answers
  wait-dags TIMEOUT DAG...           wait until the DAGs are parsed (and no import error)
  run TIMEOUT EXTRACT WAREHOUSE      unpause both, trigger EXTRACT, wait for WAREHOUSE to succeed
  check MARTS                        phase 1 of mart_programme_kpis_by_phase: 252 / > 13,000
Every failure prints a message and exits non-zero.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

TERMINAL_FAILED = {"failed"}
WRITER_POOL = "engage_writer"


def fail(message: str) -> None:
    print(f"smoke-celery: FAILED: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the temp pipeline configuration -------------------------------------------------------------


def write_config(src: str, dest: str, sim_port: str, data_dir: str) -> None:
    import yaml

    source = Path(src).resolve()
    data = yaml.safe_load(source.read_text())
    data_path = Path(data_dir)
    data["paths"] = {
        "landing": str(data_path / "landing"),
        "warehouse": str(data_path / "warehouse.duckdb"),
        "marts": str(data_path / "marts.duckdb"),
        "published": str(data_path / "published"),
    }
    data["dbt_project_dir"] = str((source.parent / data.get("dbt_project_dir", "../dbt_project")).resolve())
    pretix = data["sources"]["pretix_demo"]
    pretix["base_url"] = f"http://127.0.0.1:{sim_port}/pretix/api/v1/"
    data["sources"] = {"pretix_demo": pretix}
    Path(dest).write_text(
        "# Written by scripts/smoke_celery.sh: config/pipeline.yml, pretix_demo only, paths in a temp dir\n"
        + yaml.safe_dump(data, sort_keys=False)
    )


# --- the REST API ----------------------------------------------------------------------------------


class Api:
    def __init__(self) -> None:
        self.base = os.environ["SMOKE_API_URL"].rstrip("/")
        self.token: str | None = None

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            if self.token is None:
                self.login()
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def login(self) -> None:
        body = {"username": os.environ["SMOKE_ADMIN_USER"], "password": os.environ["SMOKE_ADMIN_PASSWORD"]}
        self.token = None
        self.token = self._request("POST", "/auth/token", body, auth=False)["access_token"]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return self._request(method, path, body)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:  # token expired: once more with a new one
                self.login()
                return self._request(method, path, body)
            detail = exc.read().decode(errors="replace")[:500]
            raise RuntimeError(f"{method} {path}: HTTP {exc.code} {detail}") from None


def wait_api(timeout: float) -> None:
    api, deadline = Api(), time.monotonic() + timeout
    while True:
        try:
            health = api._request("GET", "/api/v2/monitor/health", auth=False)
            api.login()
            log(f"api-server healthy: metadatabase {health['metadatabase']['status']}")
            return
        except Exception as exc:  # not up yet
            if time.monotonic() > deadline:
                fail(f"the api-server did not answer within {timeout:.0f} s ({exc})")
            time.sleep(2)


def wait_dags(timeout: float, dag_ids: list[str]) -> None:
    api, deadline = Api(), time.monotonic() + timeout
    while True:
        try:
            found = {d["dag_id"] for d in api.call("GET", "/api/v2/dags?limit=100")["dags"]}
            errors = api.call("GET", "/api/v2/importErrors?limit=100")["import_errors"]
        except Exception as exc:  # api-server not ready
            found, errors = set(), []
            log(f"(waiting for the DAG list: {exc})")
        if errors:
            fail("DAG import errors:\n" + "\n".join(f"{e['filename']}: {e['stack_trace']}" for e in errors))
        missing = [d for d in dag_ids if d not in found]
        if not missing:
            log(f"DAGs parsed: {', '.join(sorted(found))}")
            return
        if time.monotonic() > deadline:
            fail(f"DAGs not parsed within {timeout:.0f} s: missing {missing} (see dag-processor.log)")
        time.sleep(3)


def _runs(api: Api, dag_id: str) -> list[dict[str, Any]]:
    return api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after&limit=20")["dag_runs"]


def _task_instances(api: Api, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = api.call(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}/taskInstances"
            f"?limit=100&offset={len(out)}",
        )
        out.extend(page["task_instances"])
        if len(out) >= page["total_entries"] or not page["task_instances"]:
            return out


def _summarise(api: Api, dag_id: str, run: dict[str, Any], per_host: dict[str, Counter]) -> None:
    tis = _task_instances(api, dag_id, run["dag_run_id"])
    states = Counter(str(ti["state"]) for ti in tis)
    log(f"{dag_id} {run['dag_run_id']}: {run['state']}, {len(tis)} tasks {dict(states)}")
    for ti in tis:
        host = ti.get("hostname") or "(none)"
        per_host[host][dag_id] += 1
        if ti["state"] in TERMINAL_FAILED or ti["state"] == "up_for_retry":
            log(f"  {ti['task_id']}: {ti['state']} on {host} (try {ti['try_number']})")


def _set_pool(api: Api, slots: int) -> None:
    pool = api.call("GET", f"/api/v2/pools/{WRITER_POOL}")
    body = {"pool": WRITER_POOL, "slots": slots, "include_deferred": pool.get("include_deferred", False)}
    api.call("PATCH", f"/api/v2/pools/{WRITER_POOL}?update_mask=slots", body)


def run(timeout: float, extract: str, warehouse: str) -> None:
    """Unpause both DAGs, trigger the extract DAG, wait for the asset-triggered warehouse run.

    Unpausing the extract DAG also schedules its latest daily interval (catchup is off), so two
    extract runs land the streams one after the other, and every extract task emits its asset: the
    first emission creates a warehouse run at once. So that this one run loads every stream, the
    writer pool is held at 0 slots until all extract runs have finished (extract tasks do not use
    it; load and every dbt node and publish do), then set back to 1. The later emissions queue
    another warehouse run; it is reported, not awaited.
    """
    api = Api()
    before_extract = {r["dag_run_id"] for r in _runs(api, extract)}
    before = {r["dag_run_id"] for r in _runs(api, warehouse)}
    _set_pool(api, 0)
    log(f"pool {WRITER_POOL} held at 0 slots while the extract runs land the streams")
    for dag_id in (warehouse, extract):  # the consumer first: a paused DAG is not queued by assets
        api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        log(f"unpaused {dag_id}")
    triggered = api.call(
        "POST", f"/api/v2/dags/{extract}/dagRuns", {"logical_date": None, "conf": {}, "note": "smoke-celery"}
    )
    log(f"triggered {extract} run {triggered['dag_run_id']}")
    deadline, last_note = time.monotonic() + timeout, ""

    def check_deadline(what: str) -> None:
        if time.monotonic() > deadline:
            fail(f"{what} within {timeout:.0f} s (SMOKE_TIMEOUT; see the logs)")

    # 1. every extract run (the triggered one and the scheduled one) finishes
    while True:
        check_deadline(f"the {extract} runs did not finish")
        extract_runs = [r for r in _runs(api, extract) if r["dag_run_id"] not in before_extract]
        for r in extract_runs:
            if r["state"] == "failed":
                _summarise(api, extract, r, defaultdict(Counter))
                fail(f"{extract} run {r['dag_run_id']} failed")
        states = {r["dag_run_id"]: r["state"] for r in extract_runs}
        if triggered["dag_run_id"] in states and all(s == "success" for s in states.values()):
            break
        note = "extract runs: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
        if note != last_note:
            log(note)
            last_note = note
        time.sleep(3)
    log(f"{len(extract_runs)} {extract} runs succeeded: " + ", ".join(sorted(states)))
    _set_pool(api, 1)
    log(f"pool {WRITER_POOL} back to 1 slot: the warehouse run loads every landed stream")

    # 2. the first asset-triggered warehouse run (its load could only start now) succeeds
    warehouse_run: dict[str, Any] | None = None
    while True:
        check_deadline(
            f"no successful {warehouse} run (last: "
            f"{warehouse_run['state'] if warehouse_run else 'never created'})"
        )
        new_runs = [r for r in _runs(api, warehouse) if r["dag_run_id"] not in before]
        if new_runs:
            warehouse_run = sorted(new_runs, key=lambda r: r["run_after"])[0]
            if warehouse_run["state"] == "failed":
                _summarise(api, warehouse, warehouse_run, defaultdict(Counter))
                fail(f"{warehouse} run {warehouse_run['dag_run_id']} failed")
            if warehouse_run["state"] == "success":
                break
        tis = _task_instances(api, warehouse, warehouse_run["dag_run_id"]) if warehouse_run else []
        done = sum(1 for ti in tis if ti["state"] == "success")
        note = (
            f"{warehouse} {warehouse_run['dag_run_id']} ({warehouse_run['run_type']}): "
            f"{warehouse_run['state']}, {done}/{len(tis)} tasks done"
            if warehouse_run
            else f"{warehouse}: no run yet"
        )
        if note != last_note and (done % 10 == 0 or not warehouse_run or done == len(tis)):
            log(note)
            last_note = note
        time.sleep(5)

    per_host: dict[str, Counter] = defaultdict(Counter)
    for r in extract_runs:
        _summarise(api, extract, r, per_host)
    _summarise(api, warehouse, warehouse_run, per_host)
    run_id, run_type = warehouse_run["dag_run_id"], warehouse_run["run_type"]
    log(f"{warehouse} run {run_id}: {run_type}, triggered by {warehouse_run.get('triggered_by')}")
    for later in [r for r in _runs(api, warehouse) if r["dag_run_id"] not in before]:
        if later["dag_run_id"] != warehouse_run["dag_run_id"]:
            log(f"(another {warehouse} run {later['dag_run_id']} is {later['state']}: not awaited)")
    log("task instances per worker (hostname_callable: <fqdn>-<worker>):")
    for host, counts in sorted(per_host.items()):
        log(f"  {host}: " + ", ".join(f"{n} in {dag}" for dag, n in sorted(counts.items())))
    workers = {h for h in per_host if h != "(none)"}
    if len(workers) >= 2:
        log(f"both workers ran tasks ({len(workers)} hostnames)")
    else:
        log(f"WARNING: the tasks ran on {len(workers)} worker(s) only: {sorted(workers)}")
    if warehouse_run.get("triggered_by") != "asset" and warehouse_run.get("run_type") != "asset_triggered":
        fail(f"{warehouse} run {warehouse_run['dag_run_id']} was not triggered by the assets")


def check(marts: str) -> None:
    import duckdb

    con = duckdb.connect(marts, read_only=True)
    try:
        columns = [r[0] for r in con.execute("describe marts.mart_programme_kpis_by_phase").fetchall()]
        rows = con.execute("select * from marts.mart_programme_kpis_by_phase").fetchall()
    finally:
        con.close()
    table = [dict(zip(columns, row, strict=True)) for row in rows]
    for row in table:
        log("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
    phase1 = [r for r in table if str(r.get("phase")) == "1"]
    if not phase1:
        fail(f"no phase 1 row in mart_programme_kpis_by_phase of {marts}")
    activities, attendances = phase1[0].get("activities"), phase1[0].get("attendances")
    if activities != 252 or not (attendances or 0) > 13_000:
        fail(f"phase 1: {activities} activities, {attendances} attendances (expected 252, > 13,000)")
    log(f"published marts OK: phase 1 has {activities} activities and {attendances:,} attendances")


def main(argv: list[str]) -> None:
    if not argv:
        fail(__doc__ or "usage")
    command, args = argv[0], argv[1:]
    try:
        if command == "config":
            write_config(*args)
        elif command == "wait-api":
            wait_api(float(args[0]))
        elif command == "wait-dags":
            wait_dags(float(args[0]), args[1:])
        elif command == "run":
            run(float(args[0]), args[1], args[2])
        elif command == "check":
            check(args[0])
        else:
            fail(f"unknown command {command!r}")
    except (RuntimeError, OSError, KeyError) as exc:
        fail(f"{command}: {exc}")


if __name__ == "__main__":
    main(sys.argv[1:])
