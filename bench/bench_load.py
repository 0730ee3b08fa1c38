"""Benchmark: landing and loading throughput, side by side with a row-by-row baseline.

Figures go to bench/results/latest.json (and the terminal). Timings are compared as ratios
measured in the same run on the same machine; no test asserts them.

    make bench                    # 100,000 records
    BENCH_RECORDS=1000000 make bench
"""

from __future__ import annotations

import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from engage.landing.batches import BatchWriter, committed_manifests
from engage.warehouse.loader import load_batch
from engage.warehouse.schema import ensure_schemas

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
BASELINE_ROWS = 5_000  # enough to time executemany without waiting minutes


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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    records = int(os.environ.get("BENCH_RECORDS", "100000"))
    with tempfile.TemporaryDirectory(prefix="engage-bench-") as folder:
        landing, warehouse = Path(folder) / "landing", Path(folder) / "warehouse.duckdb"

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
        for start in range(0, records, 1_000):  # pages, as extractors hand them over
            writer.write(synthetic_order(n) for n in range(start, min(start + 1_000, records)))
        writer.commit()
        land_seconds = time.perf_counter() - started
        rss_after_landing = peak_rss_mb()

        [(directory, manifest)] = list(committed_manifests(landing))
        with duckdb.connect(str(warehouse)) as con:
            ensure_schemas(con)
            started = time.perf_counter()
            result = load_batch(con, directory, manifest)
            load_seconds = time.perf_counter() - started
            assert result.loaded == records

            lines = [json.dumps(synthetic_order(n)) for n in range(BASELINE_ROWS)]
            con.execute("create table raw.baseline (record_key varchar, cursor_value varchar, record json)")
            started = time.perf_counter()
            con.executemany(
                "insert into raw.baseline values (?, ?, ?)",
                [(json.loads(line)["code"], json.loads(line)["last_modified"], line) for line in lines],
            )
            baseline_seconds = time.perf_counter() - started

    figures = {
        "records": records,
        "landing_records_per_second": round(records / land_seconds),
        "load_records_per_second": round(records / load_seconds),
        "executemany_rows_per_second": round(BASELINE_ROWS / baseline_seconds),
        "load_speedup_over_executemany": round(
            (records / load_seconds) / (BASELINE_ROWS / baseline_seconds), 1
        ),
        "peak_rss_mb_after_landing": round(rss_after_landing, 1),
        "peak_rss_mb_total": round(peak_rss_mb(), 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "cpus": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
