"""Benchmark: what our extractor costs the client, beside a bare requests + json loop over the same pages.

The same streams are extracted from the same simulator in the same run, interleaved (the order
alternates every round, so a busy moment on a shared machine hits each mode), by:

* ``bare`` -- the floor: one `requests.Session`, `response.json()`, nothing else, asking exactly
  the requests (URLs, queries, bodies) that ``hardened`` asked in the first round of the run;
* ``hardened`` -- our extractor as shipped, end to end: `extract_stream` with the hardened client
  (streamed bodies under deadline and size limit, strict JSON, checked `next` links, counts
  reconciled), the allow-list and pseudonymisation, and the landing writer (gzip, sha256, fsync);
* ``plain`` (optional) -- ``hardened`` with the response handling before issue #10 (body read
  whole, `response.json()`, no checks): the cost of the HTTP hardening alone;
* ``before`` (optional) -- ``plain`` plus the paging before #10 (pretix orders by page number,
  KoboToolbox submissions by offset).

The simulator runs in its own process, so the bench process's CPU time (`time.process_time`) is
the client's alone: client CPU per record is the stable figure on a shared machine (issue 16's
target: ``hardened`` <= 2x ``bare``), records per wall second the one users feel (bounded by the
source). Figures go to bench/results/extract.json: medians and bests of the rounds, every run.

    make bench
    .venv/bin/python bench/bench_extract.py --rounds 5 --modes bare,hardened,plain
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import signal
import socket
import statistics
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
TARGET_CPU_RATIO = 2.0  # issue 16: extract CPU <= 2x the bare requests + json loop
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
    self.last_body = response.content  # for the page fingerprint
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


Call = tuple[str, str, Any, Any]  # method, url, params, json body


@contextlib.contextmanager
def recording(calls: list[Call], headers: dict[str, str]) -> Iterator[None]:
    """Note every request the client asks (and its headers), for the bare loop to ask the same."""
    original = ApiClient._json_once

    def _json_once(self: ApiClient, method: str, path: str, **kwargs: Any) -> Any:
        headers.update(self.session.headers)
        calls.append((method, self.url(path), kwargs.get("params"), kwargs.get("json")))
        return original(self, method, path, **kwargs)

    ApiClient._json_once = _json_once
    try:
        yield
    finally:
        ApiClient._json_once = original


def _bare_run(calls: list[Call], headers: dict[str, str]) -> dict[str, float]:
    """The floor: the same requests in a bare requests + json loop, the records of each list counted."""
    records = 0
    started, cpu = time.perf_counter(), time.process_time()
    with requests.Session() as session:
        session.headers.update(headers)
        for method, url, params, body in calls:
            response = session.request(method, url, params=params, json=body, timeout=60)
            response.raise_for_status()
            document = response.json()
            if isinstance(document, dict) and isinstance(document.get("results"), list):
                records += len(document["results"])
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {"records": records, "requests": len(calls), "seconds": seconds, "cpu": cpu_seconds}


def _one_run(sim: Any, source: str, stream: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="engage-bench-extract-") as folder:
        config = _config(Path(folder), sim)
        started, cpu = time.perf_counter(), time.process_time()
        result = extract_stream(config, source, stream)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {"records": result.records, "requests": result.requests, "seconds": seconds, "cpu": cpu_seconds}


def _stream_figures(runs: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    median_cpu = {name: statistics.median(r["cpu"] for r in rs) for name, rs in runs.items()}
    median_wall = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    records = {name: rs[0]["records"] for name, rs in runs.items()}
    figures: dict[str, Any] = {
        "records": records,
        "requests": {name: rs[0]["requests"] for name, rs in runs.items()},
        "records_per_client_cpu_second": {n: round(records[n] / median_cpu[n], 1) for n in runs},
        "records_per_wall_second": {n: round(records[n] / median_wall[n], 1) for n in runs},
        "best_records_per_client_cpu_second": {
            n: round(records[n] / min(r["cpu"] for r in rs), 1) for n, rs in runs.items()
        },
    }
    if "bare" in runs:  # the criterion: client CPU of the same pages, ours over the bare loop
        ratio = {n: round(median_cpu[n] / median_cpu["bare"], 2) for n in runs if n != "bare"}
        figures["client_cpu_ratio_vs_bare"] = ratio
        figures["wall_ratio_vs_bare"] = {
            n: round(median_wall[n] / median_wall["bare"], 2) for n in runs if n != "bare"
        }
        if "hardened" in ratio:
            figures["target_cpu_ratio"] = TARGET_CPU_RATIO
            figures["target_met"] = ratio["hardened"] <= TARGET_CPU_RATIO
    if "plain" in runs and "hardened" in runs:  # issue #10's figure: the HTTP hardening alone
        figures["overhead_percent_client_cpu_vs_plain"] = round(
            100 * (median_cpu["hardened"] / median_cpu["plain"] - 1), 1
        )
    figures["all_seconds"] = {n: [round(r["seconds"], 2) for r in rs] for n, rs in runs.items()}
    figures["all_cpu_seconds"] = {n: [round(r["cpu"], 3) for r in rs] for n, rs in runs.items()}
    return figures


def main(argv: list[str] | None = None) -> None:
    from simulator.kobo_api import DEMO_KOBO_TOKEN
    from simulator.server import DEMO_PRETIX_TOKEN

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="runs of each mode (env BENCH_ROUNDS)")
    parser.add_argument("--modes", default="bare,hardened", help="of bare, hardened, plain, before")
    parser.add_argument("--streams", default=",".join(f"{s}/{t}" for s, t in STREAMS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the simulator process is stopped too
    os.environ["ENGAGE_BENCH_PRETIX_TOKEN"] = DEMO_PRETIX_TOKEN
    os.environ["ENGAGE_BENCH_KOBO_TOKEN"] = DEMO_KOBO_TOKEN
    contexts = {
        "before": lambda: plain_client(old_paging=True),
        "plain": plain_client,
        "hardened": contextlib.nullcontext,
    }
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - {"bare", *contexts}:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    if "bare" in modes and "hardened" not in modes:
        parser.error("the bare loop asks what the hardened run asked: list both")
    load_before = os.getloadavg()
    figures: dict[str, Any] = {}
    with simulator_process() as sim:
        for name in args.streams.split(","):
            source, stream = name.split("/")
            calls: list[Call] = []
            headers: dict[str, str] = {}
            runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
            first = ["hardened", *(m for m in modes if m != "hardened")]  # round 0 records the pages
            for number in range(args.rounds):  # interleaved; the order alternates every round
                order = first if number % 2 == 0 else first[::-1]
                for mode in order:
                    if mode == "bare":
                        runs[mode].append(_bare_run(calls, headers))
                        continue
                    recorder = recording(calls, headers) if mode == "hardened" and not calls else None
                    with contexts[mode](), recorder or contextlib.nullcontext():
                        runs[mode].append(_one_run(sim, source, stream))
            figures[name] = _stream_figures(runs)
            print(f"{name}: {json.dumps(figures[name])}", flush=True)
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],  # start, end
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rounds": args.rounds,
        "page_size": PAGE_SIZE,
        "statistic": "median of the rounds (best_*: the best round)",
        "streams": figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
