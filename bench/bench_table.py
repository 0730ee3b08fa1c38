"""The bench's figures in one short table: bench/results/README.md, from the JSON files the bench
scripts wrote (each figure beside the anchor it was measured against in the same run).

Run last by `make bench`; also on its own (`python bench/bench_table.py`) after any one script.
A file that is missing is listed as not measured, never filled in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
Row = tuple[str, str, str, str, str]  # figure, value, anchor (same run), target, met


def _read(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _load(d: dict[str, Any]) -> Iterator[Row]:
    if "sizes" not in d:  # written before the floor and dlt were measured
        yield (
            "loader",
            f"{d['load_records_per_second']:,} records/s",
            "",
            "",
            "not measured against the floor",
        )
        return
    targets = d["targets"]
    for size, s in d["sizes"].items():
        loader, floor, dlt = s["loader"], s["floor"], s["dlt"]
        at_1m = int(size) >= 1_000_000
        ratio, rss = s["loader_over_floor"], loader["peak_rss_mb"]
        yield (
            f"loader, {int(size):,} records",
            f"{loader['records_per_second']:,} records/s, peak RSS {rss:,.0f} MB",
            f"DuckDB line floor {floor['records_per_second']:,} records/s, {floor['peak_rss_mb']:,.0f} MB "
            f"({ratio}x)",
            f"≥ {targets['loader_over_floor_at_1m']}x the floor, ≤ {targets['loader_peak_rss_mb_at_1m']:,} MB"
            if at_1m
            else "",
            _met(ratio >= targets["loader_over_floor_at_1m"] and rss <= targets["loader_peak_rss_mb_at_1m"])
            if at_1m
            else "",
        )
        if "skipped" in dlt:
            yield (f"loader vs dlt, {int(size):,} records", "", f"dlt: {dlt['skipped']}", "", "")
            continue
        yield (
            f"loader vs dlt, {int(size):,} records",
            f"{s['loader_over_dlt']}x dlt",
            f"dlt (parquet) {dlt['records_per_second']:,} records/s, {dlt['peak_rss_mb']:,.0f} MB",
            f"≥ {targets['loader_over_dlt']:.0f}x",
            _met(s["loader_over_dlt"] >= targets["loader_over_dlt"]),
        )


def _extract(d: dict[str, Any]) -> Iterator[Row]:
    for stream, s in d["streams"].items():
        ratio = s["client_cpu_ratio_vs_bare"]["hardened"]
        yield (
            f"extract {stream}",
            f"{s['records_per_client_cpu_second']['hardened']:,.0f} records/CPU-s",
            f"bare requests + json {s['records_per_client_cpu_second']['bare']:,.0f} ({ratio}x the CPU)",
            f"≤ {s['target_cpu_ratio']}x the bare loop's CPU",
            _met(ratio <= s["target_cpu_ratio"]),
        )


def _scale(d: dict[str, Any]) -> Iterator[Row]:
    for scale, s in d["scales"].items():
        runs, ratios = s["runs"], s["ratios"]
        full = runs["full"]
        target, met = "", ""
        if scale == "10x":
            target, met = "10x: ≤ 5 min wall (idle machine)", _met(full["wall_seconds"] <= 300)
        elif scale == "100x":  # the run completed, or there would be no figures
            target, met = "100x: completes, peak RSS ≤ 6 GB", _met(full["peak_rss_mb"] <= 6 * 1024)
        limit = d.get("dbt_memory_limit")
        yield (
            f"full run {scale}" + (f" (dbt memory_limit {limit})" if limit else ""),
            f"{full['wall_seconds']:.0f} s wall, {full['cpu_seconds']:.0f} CPU-s, "
            f"{full['peak_rss_mb']:,.0f} MB{_run_load(full)}",
            f"{full['records_extracted']:,} records extracted",
            target,
            met,
        )
        for run, target in (("no_change", 0.10), ("one_percent_change", 0.25)):
            if run not in runs:
                continue  # measured with --runs full
            cpu, got = ratios[f"{run}_over_full"]["cpu"], runs[run]
            yield (
                f"{run.replace('_', ' ')} run {scale}",
                f"{got['cpu_seconds']:.1f} CPU-s, {got['peak_rss_mb']:,.0f} MB{_run_load(got)}",
                f"{cpu:.3f}x the full run's CPU",
                f"≤ {target:.2f}x",
                _met(cpu <= target),
            )
        yield from _dbt_by_scale(scale, runs)


def _run_load(run: dict[str, Any]) -> str:
    """The 1-minute load average before and after the run (a long run outlives the file's own)."""
    load = run.get("load_average") or {}
    before, after = load.get("before"), load.get("after")
    return f" (load {before[0]:.1f} → {after[0]:.1f})" if before and after else ""


def _dbt_by_scale(scale: str, runs: dict[str, Any]) -> Iterator[Row]:
    """dbt's share of the full and the 1 %-change run (the transform stage; dbt runs in-process)."""
    for run in ("full", "one_percent_change"):
        stages = runs[run].get("stages")
        if not stages or "transform" not in stages:
            continue  # measured before stages were recorded, or dbt did not run
        dbt, whole = stages["transform"], runs[run]
        yield (
            f"dbt build, {run.replace('_', ' ')} run {scale}",
            f"{dbt['wall_seconds']:.1f} s wall, {dbt['cpu_seconds']:.1f} CPU-s, {dbt['peak_rss_mb']:,.0f} MB",
            f"{dbt['cpu_seconds'] / whole['cpu_seconds']:.0%} of the run's CPU; "
            + ", ".join(
                f"{name} {st['cpu_seconds']:.1f}" for name, st in stages.items() if name != "transform"
            )
            + " CPU-s",
            "",
            "",
        )


def _airflow(d: dict[str, Any]) -> Iterator[Row]:
    yield (
        "warehouse DAG under a live scheduler",
        f"{d['warehouse_dag_seconds']:.0f} s",
        f"CLI load + transform + publish {d['cli_seconds']:.0f} s ({d['ratio']}x)",
        "≤ 1.5x the CLI",
        _met(d["ratio"] <= 1.5),
    )
    yield ("push → published marts", f"{d['push_to_marts_seconds']:.0f} s", "", "< 300 s",
           _met(d["push_to_marts_seconds"] < 300))  # fmt: skip
    parse = d["dag_parse_seconds"]
    yield ("DAG file parse", f"{parse['wall']} s wall, {parse['cpu']} CPU-s", "", "< 1 s",
           _met(parse["wall"] < 1))  # fmt: skip


def _landed(d: dict[str, Any]) -> Iterator[Row]:
    yield (
        "pretix rows landed a day (20 scans, 1 cancellation)",
        f"{d['daily_rows_after']['total']:,} (order feed)",
        f"{d['daily_rows_before']['total']:,} with the check-in snapshot",
        "every new check-in in the order feed",
        _met(d["new_checkins_missing_from_the_order_feed"] == []),
    )


def _report(d: dict[str, Any]) -> Iterator[Row]:
    built = f"{d['cold_build_seconds']} s cold, {d['warm_build_seconds_median']} s warm"
    yield ("report build (HTML + PDF)", built, f"{d['pdf_pages']} PDF pages", "", "")


SECTIONS: list[tuple[str, str, Callable[[dict[str, Any]], Iterator[Row]]]] = [
    ("latest.json", "bench_load.py", _load),
    ("extract.json", "bench_extract.py", _extract),
    ("scale.json", "bench_scale.py", _scale),
    # 100x runs on its own (`make bench-100x`, 35-40 minutes): not part of `make bench`
    ("scale_100x.json", "bench_scale.py --scales 100", _scale),
    ("airflow.json", "bench_airflow.py", _airflow),
    ("landed_rows.json", "bench_landed_rows.py", _landed),
    ("report.json", "bench_report.py", _report),
]


def _when(d: dict[str, Any]) -> str:
    machine = d.get("machine", {})
    load = machine.get("load_average") or machine.get("load_average_1m")
    load = load or d.get("load_average_1min_before_after")
    if isinstance(load, dict):
        load = load.get("before")
    shown = f", load {load[0]:.1f}" if isinstance(load, list) and load else ""
    return f"{d.get('measured_at', 'unknown')}{shown}"


def table() -> str:
    lines = [
        "# Bench figures",
        "",
        "Written by `bench/bench_table.py` (the last step of `make bench`) from the JSON files beside",
        "it. Each figure is compared with an anchor measured in the same run; machines here are shared,",
        "so read the ratios, not the absolute times, and the load at the time.",
        "",
        "| figure | value | anchor (same run) | target | met | source, measured at |",
        "|---|---|---|---|---|---|",
    ]
    for name, script, rows in SECTIONS:
        data = _read(name)
        if data is None:
            lines.append(f"| {script} | not measured | | | | {name} missing |")
            continue
        lines += [f"| {' | '.join(row)} | {name}, {_when(data)} |" for row in rows(data)]
    return "\n".join(lines) + "\n"


def main() -> None:
    text = table()
    (RESULTS / "README.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
