"""Benchmark: how long building the programme report takes, from a published copy.

Copies a published `marts.duckdb` (default: the demo's, `data/marts.duckdb`; run `make demo`
first) into a temporary folder and builds report.md, report.html and report.pdf there:

- once in a fresh process, as `engage report` or a publish pays it (imports included: Altair,
  vl-convert's JavaScript engine, WeasyPrint);
- then BENCH_REPORT_REPEATS times in one warm process, with the time per stage (read, charts,
  html, pdf).

Figures go to bench/results/report.json (and the terminal), with the machine's load average,
since on a shared 2-core machine wall time is mostly the neighbours'. No test asserts them.

    make bench                                   # with the other benchmarks
    .venv/bin/python bench/bench_report.py [path/to/marts.duckdb]
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "report.json"
REPEATS = int(os.environ.get("BENCH_REPORT_REPEATS", "3"))

COLD = """
import json, resource, sys, time
started = time.perf_counter()
from pathlib import Path
from engage.report.build import build_report
imported = time.perf_counter() - started
files = build_report(Path(sys.argv[1]), Path(sys.argv[2]))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - started, "import_seconds": imported,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime, "stages": files.stages}))
"""


def cold_build(database: Path, folder: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", COLD, str(database), str(folder)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def warm_builds(database: Path, folder: Path) -> list[dict[str, Any]]:
    from engage.report.build import build_report

    build_report(database, folder)  # imports and the JavaScript engine's start, not timed
    runs = []
    for _ in range(REPEATS):
        cpu, started = time.process_time(), time.perf_counter()
        files = build_report(database, folder)
        runs.append(
            {
                "seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu,
                "stages": files.stages,
            }
        )
    return runs


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "marts.duckdb"
    if not source.exists():
        print(f"no published copy at {source}: run `make demo` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="engage-bench-report-") as scratch:
        folder = Path(scratch)
        database = folder / "marts.duckdb"
        shutil.copyfile(source, database)
        load_before = os.getloadavg()
        cold = cold_build(database, folder)
        warm = warm_builds(database, folder)
        load_after = os.getloadavg()
        sizes = {name: (folder / name).stat().st_size for name in ("report.html", "report.pdf")}
        from pypdf import PdfReader

        pages = len(PdfReader(folder / "report.pdf").pages)

    def median(key: str) -> float:
        return round(statistics.median(run[key] for run in warm), 2)

    stages = {
        stage: round(statistics.median(run["stages"][stage] for run in warm), 2)
        for stage in warm[0]["stages"]
    }
    figures = {
        "cold_build_seconds": round(cold["seconds"], 2),
        "cold_build_cpu_seconds": round(cold["cpu_seconds"], 2),
        "cold_import_seconds": round(cold["import_seconds"], 2),
        "warm_build_seconds_median": median("seconds"),
        "warm_build_cpu_seconds_median": median("cpu_seconds"),
        "warm_stage_seconds_median": stages,
        "repeats": REPEATS,
        "html_bytes": sizes["report.html"],
        "pdf_bytes": sizes["report.pdf"],
        "pdf_pages": pages,
        "load_average_1min_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
