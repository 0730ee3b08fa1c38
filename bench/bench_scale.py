"""Benchmark: the whole pipeline on 1x and 10x the programme (issue 16): full, no-change, 1 %-change.

For each scale, the simulator runs in a process of its own (`python -m simulator --scale N`), and
every demo source (pretix, KoboToolbox, LimeSurvey, registry inbox; tests/demo_warehouse.py) is
run through `engage.pipeline.run_pipeline` three times, each run in a fresh process:

* `full`: a fresh folder (landing, warehouse, marts, published copy);
* `no_change`: the same folder again, nothing changed at the source;
* `one_percent_change`: 1 % of the paid orders get a check-in through the simulator's control API
  (POST /_sim/pretix/orders/{code}/checkin, which touches the order), then the same folder again.

Per run: wall seconds, CPU seconds (the run's process and everything it waited for, from
`os.wait4`), peak RSS (the largest of them), the simulator's CPU seconds during the run, the
records loaded, and the same three figures for each stage (`stages`: extract, load, transform,
publish, freshness; transform is dbt, which runs in the run's process). Ratios: no-change / full
and 1 %-change / full (wall and CPU). The machine's load average is recorded before and after
each run. Figures go to bench/results/scale.json.

The dbt tests tagged demo_figures (they check the 1x demo's headline figures) are off at every
scale, so the runs at 1x and 10x do the same work per record.

    make bench     # or: .venv/bin/python bench/bench_scale.py --scales 1,10   (--scales 1: quick)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

RESULTS = ROOT / "bench" / "results" / "scale.json"
CHANGED_SHARE = 0.01
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (/proc/<pid>/stat: utime, stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _process_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@contextlib.contextmanager
def simulator_process(scale: int) -> Iterator[SimpleNamespace]:
    """The simulator at `scale` in a process of its own, so a run's CPU and RSS are the pipeline's."""
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--scale", str(scale)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    from simulator import kobo_api, pretix_api

    try:
        deadline = time.monotonic() + 60 + 30 * scale  # generation: ~1.5 s per replica measured
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/_sim/health", timeout=1).ok:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the simulator at scale {scale} did not start")
            time.sleep(0.5)
        yield SimpleNamespace(
            pid=process.pid,
            base_url=base,
            pretix_url=f"{base}{pretix_api.API_PREFIX}/",
            kobo_url=f"{base}{kobo_api.PREFIX}/",
            startup_seconds=round(time.perf_counter() - started, 2),
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


def one_run(config_path: Path, simulator: SimpleNamespace) -> dict[str, Any]:
    """One pipeline run in a fresh process: wall, CPU and peak RSS of it and its children."""
    load_before, sim_cpu = _load(), _process_cpu(simulator.pid)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(config_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if process.returncode != 0:
        raise RuntimeError(f"the pipeline run failed ({status}): {output[-2000:]}")
    summary = json.loads(output.strip().splitlines()[-1])
    # The child resets its high-water mark at each stage, which the kernel's ru_maxrss then
    # follows: the run's peak is the largest stage peak (or a child's, which ru_maxrss keeps).
    stage_peaks = [stage["peak_rss_mb"] for stage in summary.get("stages", {}).values()]
    return {
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": max([round(usage.ru_maxrss / 1024, 1), *stage_peaks]),
        "simulator_cpu_seconds": round(_process_cpu(simulator.pid) - sim_cpu, 2),
        "load_average": {"before": load_before, "after": _load()},
        **summary,
    }


def change_orders(simulator: SimpleNamespace, scale: int) -> int:
    """Check in one position of 1 % of the paid orders (each check-in touches its order)."""
    from simulator import pretix_data

    codes = [
        o.code for o in pretix_data.generate(scale=scale).orders if o.code and o.status == "p" and o.positions
    ]
    chosen = random.Random(f"bench-scale:{scale}").sample(codes, round(len(codes) * CHANGED_SHARE))
    with requests.Session() as session:
        for code in chosen:
            response = session.post(
                f"{simulator.base_url}/_sim/pretix/orders/{code}/checkin", json={}, timeout=30
            )
            response.raise_for_status()
    return len(chosen)


RUNS = ("full", "no_change", "one_percent_change")


def bench_scale(scale: int, runs_wanted: tuple[str, ...] = RUNS) -> dict[str, Any]:
    from engage.config import load_config
    from tests.demo_warehouse import demo_config

    folder = Path(tempfile.mkdtemp(prefix=f"bench-scale-{scale}x-"))
    try:
        with simulator_process(scale) as simulator:
            config = demo_config(folder, simulator)  # sets the demo credential variables too
            config_path = Path(config.config_path)
            data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
            data["demo"] = False  # the demo_figures dbt tests check the 1x figures only
            config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
            load_config(config_path)  # still valid
            runs: dict[str, Any] = {}
            print(f"{scale}x: simulator up in {simulator.startup_seconds} s", flush=True)
            for name in runs_wanted:
                changed = change_orders(simulator, scale) if name == "one_percent_change" else 0
                runs[name] = one_run(config_path, simulator)
                if changed:
                    runs[name]["orders_changed"] = changed
                print(f"{scale}x {name}: {json.dumps(runs[name])}", flush=True)
            simulator_peak = _process_peak_mb(simulator.pid)
        full = runs["full"]
        return {
            "simulator": {"startup_seconds": simulator.startup_seconds, "peak_rss_mb": simulator_peak},
            "runs": runs,
            "ratios": {
                f"{name}_over_full": {
                    key: round(runs[name][f"{key}_seconds"] / full[f"{key}_seconds"], 3)
                    for key in ("wall", "cpu")
                }
                for name in RUNS[1:]
                if name in runs
            },
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class StageClock:
    """Wall, CPU and peak RSS of each stage `run_pipeline` announces (extract, load, transform, ...).

    dbt runs in this process, so the transform stage's figures are dbt's. The peak is the kernel's
    high-water mark (VmHWM), reset at each stage through /proc/self/clear_refs, so each stage's
    peak is its own, not the largest so far."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self._current: str | None = None
        self._started = (0.0, 0.0)

    @staticmethod
    def _cpu() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def __call__(self, stage: str) -> None:
        self.stop()
        self._current, self._started = stage, (time.perf_counter(), self._cpu())
        with contextlib.suppress(OSError):  # not on every kernel: the peak is then the run's so far
            Path("/proc/self/clear_refs").write_text("5")

    def stop(self) -> None:
        if self._current is None:
            return
        wall, cpu = self._started
        self.stages[self._current] = {
            "wall_seconds": round(time.perf_counter() - wall, 2),
            "cpu_seconds": round(self._cpu() - cpu, 2),
            "peak_rss_mb": _process_peak_mb(os.getpid()),
        }
        self._current = None


def child(config_path: Path) -> None:
    """The run itself (in its own process): one `run_pipeline`, a JSON summary on the last line."""
    from engage.config import load_config
    from engage.pipeline import run_pipeline

    clock = StageClock()
    summary = run_pipeline(load_config(config_path), on_stage=clock)
    clock.stop()
    streams = summary.streams.values()
    print(
        json.dumps(
            {
                "records_extracted": sum(s.extracted for s in streams),
                "records_loaded": sum(s.loaded for s in streams),
                "dbt_nodes": len(summary.dbt_nodes),
                "skipped": summary.skipped,
                "stages": clock.stages,
            }
        )
    )


def _profile_memory_limit() -> str | None:
    """The memory_limit default the dbt profile gives DuckDB, if it sets one."""
    profile = yaml.safe_load((ROOT / "dbt_project" / "profiles.yml").read_text(encoding="utf-8"))
    setting = str(profile["engage"]["outputs"]["warehouse"].get("settings", {}).get("memory_limit", ""))
    default = re.search(r"'([^']*)'\s*\)\s*}}", setting)  # env_var('ENGAGE_DBT_MEMORY_LIMIT', '<default>')
    return default.group(1) if default else (setting or None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="1,10", help="comma-separated scales (default 1,10)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--runs", default=",".join(RUNS), help=f"comma-separated, in this order (default {','.join(RUNS)})"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the simulator process is stopped too
    scales = [int(s) for s in args.scales.split(",") if s.strip()]
    load_before = _load()
    runs = tuple(name for name in RUNS if name in args.runs.split(","))
    if not runs or runs[0] != "full":
        parser.error("--runs starts with full: the other runs are measured against it")
    figures = {f"{scale}x": bench_scale(scale, runs) for scale in scales}
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": {"before": load_before, "after": _load()},
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "changed_share_of_paid_orders": CHANGED_SHARE,
        # DuckDB's memory_limit for dbt (dbt_project/profiles.yml; unset there: DuckDB's 80 % of RAM)
        "dbt_memory_limit": os.environ.get("ENGAGE_DBT_MEMORY_LIMIT") or _profile_memory_limit(),
        "scales": figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
