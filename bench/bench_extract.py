"""Benchmark: what the hardened HTTP client costs per response, in extracted records per second.

The same streams are extracted from the same simulator in the same run, alternately, by:

* ``plain`` -- the response handling before issue #10: `requests` reads the whole body and
  `response.json()` parses it; no deadline, size limit, strict JSON, origin or count checks;
* ``hardened`` -- the client as shipped: the body streamed under its deadline and size limit,
  decoded in its declared charset, NaN and duplicate keys refused, `next` links checked, each
  walk reconciled with the source's `count`;
* ``before`` -- ``plain`` plus the paging before #10 (pretix orders by page number, KoboToolbox
  submissions by offset), for the whole picture: the keyset queries cost the server differently.

``plain`` and ``hardened`` page the same way, so their difference is the per-response and
per-page cost of the hardening. The simulator runs in its own process, so the extracting
process's CPU time (`time.process_time`) is the client's alone: records per client CPU second is
the stable figure on a shared machine, records per wall second the one users feel. Figures go to
bench/results/extract.json, best of BENCH_ROUNDS rounds each.

    make bench
    BENCH_ROUNDS=5 .venv/bin/python bench/bench_extract.py
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import yaml

from engage.config import load_config
from engage.extract import extract_stream
from extractors import kobotoolbox, pretix
from extractors.http import ApiClient, NotJsonError, SourceError

RESULTS = Path(__file__).resolve().parent / "results" / "extract.json"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
STREAMS = [("pretix_bench", "orders"), ("kobo_bench", "submissions")]
PAGE_SIZE = 50  # pretix's own maximum: many responses, so the per-response cost shows


def _plain_json_once(self: ApiClient, method: str, path: str, **kwargs: Any) -> Any:
    """The response handling before #10: one `requests` call, the body read whole, `.json()`."""
    url = self.url(path)
    try:
        response = self.session.request(method, url, timeout=self.timeout, **kwargs)
    except requests.RequestException as exc:
        raise SourceError(f"{self.source_name}: request to {url} failed: {exc}") from None
    finally:
        self.requests_made += 1
    if response.status_code >= 400:
        raise SourceError(f"{self.source_name}: HTTP {response.status_code} for {url}")
    try:
        return response.json()
    except ValueError:
        raise NotJsonError(f"{self.source_name}: response from {url} is not JSON") from None


def _plain_orders(client: ApiClient, source: Any, context: Any) -> Iterator[list[dict]]:
    params: dict[str, object] = {"ordering": "last_modified", "page_size": source.http.page_size}
    if since := context.start():
        params["modified_since"] = since
    yield from client.paginate(f"organizers/{source.organizer}/orders/", params)


def _plain_submissions(client: ApiClient, source: Any, context: Any) -> Iterator[list[dict]]:
    for asset in kobotoolbox.survey_assets(client, source):
        if asset.get("has_deployment"):
            params = {"format": "json", "limit": source.http.page_size, "sort": '{"_submission_time":1}'}
            yield from client.paginate(f"api/v2/assets/{asset['uid']}/data/", params)


@contextlib.contextmanager
def plain_client(old_paging: bool = False) -> Iterator[None]:
    """Swap the pre-#10 response handling (and paging) in; restore the shipped ones after."""
    saved = (ApiClient._json_once, ApiClient._check_list, ApiClient._reconcile)
    streams = (pretix.STREAMS["orders"], kobotoolbox.STREAMS["submissions"])
    ApiClient._json_once = _plain_json_once
    ApiClient._check_list = lambda self, payload, url: None
    ApiClient._reconcile = lambda self, *args: None
    if old_paging:
        pretix.STREAMS["orders"] = dataclasses.replace(streams[0], fetch=_plain_orders)
        kobotoolbox.STREAMS["submissions"] = dataclasses.replace(streams[1], fetch=_plain_submissions)
    try:
        yield
    finally:
        ApiClient._json_once, ApiClient._check_list, ApiClient._reconcile = saved
        pretix.STREAMS["orders"], kobotoolbox.STREAMS["submissions"] = streams


def _config(folder: Path, sim: Any) -> Any:
    http = {"page_size": PAGE_SIZE, "backoff_factor": 0.01}
    data = {
        "paths": {name: str(folder / name) for name in ("landing", "warehouse", "marts", "published")},
        "privacy": {"allow_demo_key": True},
        "sources": {
            "pretix_bench": {
                "kind": "pretix",
                "base_url": sim.pretix_url,
                "organizer": "ecccn",
                "credentials": {"token_env": "ENGAGE_BENCH_PRETIX_TOKEN"},
                "streams": ["orders"],
                "http": http,
            },
            "kobo_bench": {
                "kind": "kobotoolbox",
                "base_url": sim.kobo_url,
                "credentials": {"token_env": "ENGAGE_BENCH_KOBO_TOKEN"},
                "streams": ["submissions"],
                "http": http,
            },
        },
    }
    (folder / "pipeline.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(folder / "pipeline.yml")


@dataclasses.dataclass
class _Simulator:
    base_url: str

    @property
    def pretix_url(self) -> str:
        return f"{self.base_url}/pretix/api/v1/"

    @property
    def kobo_url(self) -> str:
        return f"{self.base_url}/kobo/"


@contextlib.contextmanager
def simulator_process() -> Iterator[_Simulator]:
    """The simulator in a process of its own, so this process's CPU time is the client's."""
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/_sim/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError("the simulator did not start within a minute")
        yield _Simulator(base)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _one_run(sim: Any, source: str, stream: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="engage-bench-extract-") as folder:
        config = _config(Path(folder), sim)
        started, cpu = time.perf_counter(), time.process_time()
        result = extract_stream(config, source, stream)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {"records": result.records, "requests": result.requests, "seconds": seconds, "cpu": cpu_seconds}


def main() -> None:
    from simulator.kobo_api import DEMO_KOBO_TOKEN
    from simulator.server import DEMO_PRETIX_TOKEN

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the simulator process is stopped too
    os.environ["ENGAGE_BENCH_PRETIX_TOKEN"] = DEMO_PRETIX_TOKEN
    os.environ["ENGAGE_BENCH_KOBO_TOKEN"] = DEMO_KOBO_TOKEN
    modes = {
        "before": lambda: plain_client(old_paging=True),
        "plain": plain_client,
        "hardened": contextlib.nullcontext,
    }
    figures: dict[str, Any] = {}
    with simulator_process() as sim:
        for source, stream in STREAMS:
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
            for _ in range(ROUNDS):  # alternate, so a busy moment on a shared machine hits each
                for name, mode in modes.items():
                    with mode():
                        runs[name].append(_one_run(sim, source, stream))
            records = runs["hardened"][0]["records"]
            wall = {name: records / min(r["seconds"] for r in rs) for name, rs in runs.items()}
            cpu = {name: records / min(r["cpu"] for r in rs) for name, rs in runs.items()}
            figures[f"{source}/{stream}"] = {
                "records": records,
                "requests": {name: rs[0]["requests"] for name, rs in runs.items()},
                "records_per_wall_second": {name: round(r, 1) for name, r in wall.items()},
                "records_per_client_cpu_second": {name: round(r, 1) for name, r in cpu.items()},
                # the criterion: hardened vs plain, same paging (per-response and per-page cost)
                "overhead_percent_client_cpu": round(100 * (1 - cpu["hardened"] / cpu["plain"]), 1),
                "overhead_percent_wall": round(100 * (1 - wall["hardened"] / wall["plain"]), 1),
                "overhead_percent_wall_vs_before": round(100 * (1 - wall["hardened"] / wall["before"]), 1),
                "all_seconds": {name: [round(r["seconds"], 2) for r in rs] for name, rs in runs.items()},
                "all_cpu_seconds": {name: [round(r["cpu"], 2) for r in rs] for name, rs in runs.items()},
            }
            print(f"{source}/{stream}: {json.dumps(figures[f'{source}/{stream}'])}", flush=True)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rounds": ROUNDS,
        "page_size": PAGE_SIZE,
        "streams": figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
