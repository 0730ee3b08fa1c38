"""Backfill: a window lands exactly that window, and leaves the incremental cursor alone."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from engage.config import load_config
from engage.extract import extract_stream
from engage.landing.batches import committed_manifests, stream_state
from extractors.streams import Window, parse_cursor
from tests.conftest import write_config

START, END = "2021-03-01T00:00:00+01:00", "2021-06-01T00:00:00+02:00"


def _landed_orders(landing: Path, batch_id: str) -> list[dict]:
    [part] = landing.glob(f"pretix_test/orders/batch={batch_id}/part-*.ndjson.gz")
    with gzip.open(part, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _source_orders_in(start: str, end: str) -> set[str]:
    from simulator.pretix_data import generate

    low, high = parse_cursor(start), parse_cursor(end)
    return {
        order.code or "<no code>"
        for order in generate().orders
        if low <= parse_cursor(order.last_modified) < high
    }


@pytest.fixture
def config(tmp_path: Path, simulator):
    return load_config(write_config(tmp_path, simulator.pretix_url))


def test_a_backfill_lands_exactly_its_window(config) -> None:
    result = extract_stream(config, "pretix_test", "orders", window=Window(START, END))
    landed = _landed_orders(config.landing_dir, result.batch_id)
    times = [parse_cursor(o["last_modified"]) for o in landed]
    assert min(times) >= parse_cursor(START) and max(times) < parse_cursor(END)
    assert {o.get("code", "<no code>") for o in landed} == _source_orders_in(START, END)
    [(_, manifest)] = list(committed_manifests(config.landing_dir, "pretix_test", "orders"))
    assert (manifest.data_interval_start, manifest.data_interval_end) == (START, END)


def test_a_backfill_moves_no_cursor_and_a_normal_run_still_reads_everything(config) -> None:
    extract_stream(config, "pretix_test", "orders", window=Window(START, END))
    assert stream_state(config.landing_dir, "pretix_test", "orders").marks == {}
    normal = extract_stream(config, "pretix_test", "orders")
    assert normal.records == len(_source_orders_in("2000-01-01T00:00:00Z", datetime.now().isoformat() + "Z"))


def test_streams_without_a_time_cursor_ignore_the_window(config) -> None:
    result = extract_stream(config, "pretix_test", "events", window=Window(START, END))
    assert result.records > 250  # the whole snapshot, as a normal run reads it
