"""Benchmark: the loader beside DuckDB's own line floor and dlt, on the same landed files.

In one run, per size (100,000 and 1,000,000 records by default), the records are landed once
(BatchWriter, 100,000-row parts) and loaded into a fresh DuckDB file by each contender, each in a
child process of its own so its peak RSS (os.wait4's ru_maxrss) is its own:

* `loader`: engage.warehouse.loader.load_batch (verification, classification, quarantine, audit);
* `floor`: DuckDB alone, the ceiling for any loader built on it: read_csv of the same gzip files
  as whole lines (one VARCHAR column, as the loader read them before it read parts itself) and
  an insert of each line cast to JSON, in one statement, with no checks at all;
* `dlt`: dlt (the `bench` dependency group, `make bench` syncs it) loading the same records,
  read from the same files, into DuckDB with the parquet loader format. If `import dlt` fails the
  figure says "not installed". At 1M it is skipped unless BENCH_DLT_1M=1: at the ~3,300
  records/s it reached at 100k here it would take about 5 minutes, more than the rest together.

Plus `executemany` of 5,000 rows, the row-by-row anchor the design note quotes. Ratios:
loader / floor and loader / dlt (records per second). Targets (issue 16): loader >= 0.8x the
floor at 1M records with peak RSS <= 1 GB, and >= 20x dlt. `make bench` runs both sizes: the
1M round (landing ~22 s, loader ~11 s, floor ~6 s) is short, and only 1M shows what a
multi-part batch costs in memory; the whole script takes about 2 minutes on 2 cores.

    make bench                                   # 100,000 and 1,000,000 records
    .venv/bin/python bench/bench_load.py 100000  # one size (or BENCH_SIZES=100000,1000000)

Figures go to bench/results/latest.json (and the terminal); no test asserts them.
"""

from __future__ import annotations

import gzip
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from engage.landing.batches import BatchWriter, committed_manifests

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
BASELINE_ROWS = 5_000  # enough to time executemany without waiting minutes
DEFAULT_SIZES = (100_000, 1_000_000)
FLOOR_TARGET, DLT_TARGET, RSS_TARGET_MB = 0.8, 20.0, 1024
_LINES = (
    "read_csv(?, columns={'line': 'VARCHAR'}, header=false, delim='\x1e', quote='', escape='', "
    "auto_detect=false, max_line_size=268435456, compression='gzip')"
)


def synthetic_order(n: int) -> dict[str, Any]:
    """An order shaped like pretix's, ~20 fields with nested positions and answers."""
    return {
        "code": f"B{n:08d}",
        "event": f"p1-2020-{n % 250:03d}",
        "status": "p" if n % 17 else "c",
        "testmode": False,
        "email_pseudonym": f"{n:032x}",
        "locale": "en",
        "datetime": f"2020-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00+00:00",
        "last_modified": f"2021-{1 + n % 12:02d}-{1 + n % 28:02d}T10:{n % 60:02d}:00+00:00",
        "total": "0.00",
        "sales_channel": "web",
        "invoice_address": {"company": f"Org {n % 900}", "country": "DO", "name_pseudonym": f"{n:032x}"},
        "positions": [
            {
                "id": n,
                "positionid": 1,
                "item": 1,
                "price": "0.00",
                "attendee_email_pseudonym": f"{n:032x}",
                "company": f"Org {n % 900}",
                "answers": [
                    {"question_identifier": "country", "answer": "Viet Nam"},
                    {"question_identifier": "sector", "answer": "CSIRT", "option_identifiers": ["csirt"]},
                    {"question_identifier": "gender", "answer": "Female", "option_identifiers": ["female"]},
                ],
                "checkins": [{"id": n, "list": 1, "datetime": "2020-01-01T09:00:00+00:00", "type": "entry"}],
            }
        ],
    }


def land(landing: Path, records: int) -> float:
    """Land the records as an extractor would (pages of 1,000); returns records per second."""
    started = time.perf_counter()
    writer = BatchWriter(
        landing,
        source_instance="bench",
        system="pretix",
        stream="orders",
        mode="incremental",
        primary_key=["code"],
        cursor_field="last_modified",
        extractor_version="bench",
    )
    for start in range(0, records, 1_000):
        writer.write(synthetic_order(n) for n in range(start, min(start + 1_000, records)))
    writer.commit()
    return records / (time.perf_counter() - started)


# Each contender runs in a child process: python bench_load.py --child <name> <landing> <folder>.
def child_loader(landing: Path, warehouse: Path) -> int:
    from engage.warehouse.loader import connect_for_loading, load_batch
    from engage.warehouse.schema import ensure_schemas

    [(directory, manifest)] = list(committed_manifests(landing))
    with connect_for_loading(warehouse) as con:  # as load_pending opens it: the loader's memory limit
        ensure_schemas(con)
        result = load_batch(con, directory, manifest)
    assert result.loaded == manifest.row_count, result
    return result.loaded


def child_floor(landing: Path, warehouse: Path) -> int:
    [(directory, manifest)] = list(committed_manifests(landing))
    files = [str(directory / part.name) for part in manifest.parts]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table lines (record json)")
        [(rows,)] = con.execute(f"insert into lines select line::json from {_LINES}", [files]).fetchall()
    return rows


def child_dlt(landing: Path, warehouse: Path) -> int:
    import dlt

    [(directory, manifest)] = list(committed_manifests(landing))

    @dlt.resource(name="orders", primary_key="code", write_disposition="append")
    def orders():  # pages of 1,000 records, read from the same files
        for part in manifest.parts:
            with gzip.open(directory / part.name, "rt", encoding="utf-8") as handle:
                page = []
                for line in handle:
                    page.append(json.loads(line))
                    if len(page) == 1_000:
                        yield page
                        page = []
                if page:
                    yield page

    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    pipeline = dlt.pipeline(
        pipeline_name="bench_load",
        pipelines_dir=str(warehouse.parent / "dlt"),
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name="raw",
    )
    pipeline.run(orders(), loader_file_format="parquet")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(rows,)] = con.execute("select count(*) from raw.orders").fetchall()
    return rows


def child_executemany(landing: Path, warehouse: Path) -> int:
    lines = [json.dumps(synthetic_order(n)) for n in range(BASELINE_ROWS)]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table baseline (record_key varchar, cursor_value varchar, record json)")
        rows = [(json.loads(line)["code"], json.loads(line)["last_modified"], line) for line in lines]
        con.executemany("insert into baseline values (?, ?, ?)", rows)
    return BASELINE_ROWS


CHILDREN = {
    "loader": child_loader,
    "floor": child_floor,
    "dlt": child_dlt,
    "executemany": child_executemany,
}
# Imported before a child's clock starts: each contender is timed loading, not importing (the
# floor's DuckDB is imported with this file; the loader's pyarrow and pydantic, or dlt, were
# 0.5-1 s of the 100k-record figure).
IMPORTS = {"loader": ["engage.warehouse.loader", "engage.warehouse.schema"], "dlt": ["dlt"]}


def run_child(name: str, landing: Path, folder: Path) -> dict[str, Any]:
    """One contender in its own process: records/s (timed in the child), its own peak RSS."""
    folder.mkdir(parents=True)
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", name, str(landing), str(folder / "warehouse.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if process.returncode != 0:
        raise RuntimeError(f"{name} failed ({status}): {output[-2000:]}")
    rows, seconds = json.loads(output.strip().splitlines()[-1])
    return {
        "records": rows,
        "seconds": round(seconds, 2),
        "records_per_second": round(rows / seconds),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
    }


def dlt_installed() -> bool:
    try:
        import dlt  # noqa: F401
    except ImportError:
        return False
    return True


def measure(records: int, folder: Path) -> dict[str, Any]:
    landing = folder / "landing"
    figures: dict[str, Any] = {"landing_records_per_second": round(land(landing, records))}
    load_before = [round(value, 2) for value in os.getloadavg()]
    for name in ("loader", "floor"):
        figures[name] = run_child(name, landing, folder / name)
        print(f"{records:>9,} {name:<8} {figures[name]}", flush=True)
    loader = figures["loader"]["records_per_second"]
    figures["loader_over_floor"] = round(loader / figures["floor"]["records_per_second"], 2)
    if not dlt_installed():
        figures["dlt"] = {"skipped": "not installed (the bench dependency group: make bench syncs it)"}
    elif records > 100_000 and os.environ.get("BENCH_DLT_1M") != "1":
        figures["dlt"] = {"skipped": "not run past 100k records (~5 min at 1M); BENCH_DLT_1M=1 runs it"}
    else:
        figures["dlt"] = run_child("dlt", landing, folder / "dlt")
        figures["loader_over_dlt"] = round(loader / figures["dlt"]["records_per_second"], 1)
    print(f"{records:>9,} dlt      {figures['dlt']}", flush=True)
    figures["load_average"] = {"before": load_before, "after": [round(v, 2) for v in os.getloadavg()]}
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        name, landing, warehouse = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
        for module in IMPORTS.get(name, []):
            importlib.import_module(module)
        started = time.perf_counter()
        rows = CHILDREN[name](landing, warehouse)
        print(json.dumps([rows, time.perf_counter() - started]))
        return
    spec = ",".join(sys.argv[1:]) or os.environ.get("BENCH_SIZES", "")
    sizes = [int(size) for size in spec.split(",") if size] or list(DEFAULT_SIZES)
    load_before = [round(value, 2) for value in os.getloadavg()]
    results: dict[str, Any] = {"sizes": {}}
    with tempfile.TemporaryDirectory(prefix="engage-bench-") as folder:
        for records in sizes:
            results["sizes"][str(records)] = measure(records, Path(folder) / str(records))
        results["executemany"] = run_child("executemany", Path(folder), Path(folder) / "executemany")
    results["targets"] = {
        "loader_over_floor_at_1m": FLOOR_TARGET,
        "loader_peak_rss_mb_at_1m": RSS_TARGET_MB,
        "loader_over_dlt": DLT_TARGET,
    }
    results["machine"] = {
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dlt": _dlt_version(),
        "cpus": os.cpu_count(),
        "load_average": {"before": load_before, "after": [round(v, 2) for v in os.getloadavg()]},
    }
    results["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {RESULTS}")


def _dlt_version() -> str | None:
    try:
        import dlt
    except ImportError:
        return None
    return dlt.__version__


if __name__ == "__main__":
    main()
