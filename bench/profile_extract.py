"""Profile one extraction of a stream against the simulator (its own process): the client's costs.

    .venv/bin/python bench/profile_extract.py [--stream pretix_bench/orders] [--top 25] [--out FILE]

cProfile of the extracting process only (the simulator runs in another), sorted by own time, and
the same sorted by cumulative time: the figures issue 16's "leaner extractor" was judged by.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

from bench_extract import STREAMS, _config, simulator_process

from engage.extract import extract_stream


def main() -> None:
    from simulator.kobo_api import DEMO_KOBO_TOKEN
    from simulator.server import DEMO_PRETIX_TOKEN

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stream", default="/".join(STREAMS[0]), help="source/stream of the bench config")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", help="also write the raw profile here (pstats format)")
    args = parser.parse_args()
    os.environ["ENGAGE_BENCH_PRETIX_TOKEN"] = DEMO_PRETIX_TOKEN
    os.environ["ENGAGE_BENCH_KOBO_TOKEN"] = DEMO_KOBO_TOKEN
    source, stream = args.stream.split("/")
    with simulator_process() as sim, tempfile.TemporaryDirectory(prefix="engage-profile-") as folder:
        config = _config(Path(folder), sim)
        profile = cProfile.Profile()
        started, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        result = extract_stream(config, source, stream)
        profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"{args.stream}: {result.records} records, {result.requests} requests, "
        f"{wall:.1f} s wall, {cpu:.2f} s CPU"
    )
    if args.out:
        profile.dump_stats(args.out)
    stats = pstats.Stats(profile).strip_dirs()
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
