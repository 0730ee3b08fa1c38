"""A live Airflow 3 for tests and the bench: api-server, scheduler and dag-processor, LocalExecutor.

Everything on 127.0.0.1 with free ports, in a temporary AIRFLOW_HOME (SQLite metadata database).
Each service runs in its own process group and is stopped by killing the group (TERM, then KILL),
at the latest at exit or on SIGTERM to the test run:
`airflow standalone`'s children survive a SIGTERM to it, so it is not used. Every wait is bounded.

    with LiveAirflow(home, env={"ENGAGE_CONFIG": ...}) as airflow:
        airflow.unpause("engage_warehouse")
        run = airflow.trigger("engage_extract_pretix_test")
        airflow.wait_run("engage_extract_pretix_test", run["dag_run_id"], timeout=600)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from tests.stop_on_exit import stop_on_exit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SERVICES = ("api-server", "scheduler", "dag-processor")
FINISHED = {"success", "failed"}
# SQLite's default 5 s busy timeout is too short on a busy machine: `airflow backfill create`
# failed with "database is locked" while the scheduler wrote. Read by every service (import path).
SQLITE_CONNECT_ARGS = {"timeout": 120}


def pretix_order_push(simulator: Any, notification_id: int) -> bytes:
    """The body pretix sends for a change to the simulator's first order (the live tests and the bench)."""
    order = requests.get(
        simulator.pretix_url + "organizers/ecccn/orders/",
        params={"page_size": 1},
        headers={"Authorization": f"Token {simulator.pretix_token}"},
        timeout=10,
    ).json()["results"][0]
    return json.dumps(
        {
            "notification_id": notification_id,
            "organizer": "ecccn",
            "event": order["event"],
            "code": order["code"],
            "action": "pretix.event.order.changed",
        }
    ).encode()


class LiveAirflowError(Exception):
    """A service died or did not become ready in time; the message names its log."""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class LiveAirflow:
    def __init__(self, home: Path, *, env: dict[str, str] | None = None, parallelism: int = 4) -> None:
        self.home = home
        self.logs = home / "service-logs"
        api_port, log_port, trigger_port = free_ports(3)
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.password = secrets.token_urlsafe(16)
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),  # a 2-core machine: a few task processes
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"{self.api_url}/",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_port),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "tests.live_airflow.SQLITE_CONNECT_ARGS",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "tests.live_airflow.SQLITE_CONNECT_ARGS",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **(env or {}),
        }
        self.env.pop("PYTEST_XDIST_WORKER", None)
        self.processes: dict[str, subprocess.Popen] = {}
        self._session = requests.Session()
        self._token: str | None = None

    # -- life cycle -------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 300) -> str:
        """One `airflow ...` command against this home; raises with its output on failure."""
        done = subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise LiveAirflowError(
                f"airflow {' '.join(args)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return done.stdout

    def start(self, *, ready_timeout: float = 300) -> LiveAirflow:
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({"admin": self.password}))
        self.cli("db", "migrate", timeout=600)
        self.cli("pools", "set", "engage_writer", "1", "One DuckDB writer")
        stop_on_exit(self.stop, "the live Airflow")  # a killed pytest leaves no service behind
        for name in SERVICES:
            args = [AIRFLOW, name, *(["--workers", "1"] if name == "api-server" else [])]
            with open(self.logs / f"{name}.log", "wb") as log:
                self.processes[name] = subprocess.Popen(
                    args,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: stop() kills the whole group
                )
        self._wait(ready_timeout, "the api-server", self._healthy)
        return self

    def stop(self, grace: float = 20) -> None:
        for process in self.processes.values():
            self._signal(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            self._signal(process, signal.SIGKILL)  # the group: task runners and gunicorn children too
            process.wait(timeout=10)
        self.processes.clear()

    @staticmethod
    def _signal(process: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    def __enter__(self) -> LiveAirflow:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _assert_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise LiveAirflowError(f"airflow {name} exited ({process.returncode}); log tail:\n{tail}")

    def _wait(self, timeout: float, what: str, ready: Any, every: float = 2.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._assert_alive()
            try:
                value = ready()
            except requests.RequestException:  # a busy api-server (2 cores, a task running): ask again
                value = None
            if value:
                return value
            time.sleep(every)
        raise LiveAirflowError(f"{what} not ready within {timeout:.0f} s (logs in {self.logs})")

    def _healthy(self) -> bool:
        try:
            return self._session.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    # -- REST API ---------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            response = self._session.post(
                f"{self.api_url}/auth/token",
                json={"username": "admin", "password": self.password},
                timeout=10,
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token()}"}
        response = self._session.request(
            method, f"{self.api_url}{path}", headers=headers, timeout=30, **kwargs
        )
        if response.status_code >= 400:
            raise LiveAirflowError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def wait_dags(self, dag_ids: list[str], timeout: float = 300) -> None:
        def parsed() -> bool:
            found = {d["dag_id"] for d in self.api("GET", "/api/v2/dags?limit=100")["dags"]}
            errors = self.api("GET", "/api/v2/importErrors?limit=100")["import_errors"]
            if errors:
                raise LiveAirflowError(f"DAG import errors: {errors}")
            return set(dag_ids) <= found

        self._wait(timeout, f"DAGs {dag_ids}", parsed)

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.api(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=run_after&limit=100")["dag_runs"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        found = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in found["task_instances"]}

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            run = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")
            return run if run["state"] in FINISHED else None

        return self._wait(timeout, f"run {run_id} of {dag_id}", finished)

    def wait_idle(self, dag_id: str, at_least: int, timeout: float = 600) -> list[dict[str, Any]]:
        """Wait until `dag_id` has at least `at_least` runs and none queued or running."""

        def idle() -> list[dict[str, Any]] | None:
            runs = self.runs(dag_id)
            return runs if len(runs) >= at_least and all(r["state"] in FINISHED for r in runs) else None

        return self._wait(timeout, f"{at_least} finished runs of {dag_id}", idle)
