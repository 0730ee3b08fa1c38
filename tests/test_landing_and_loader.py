"""Landing batches and the loader: atomic commits, derived cursors, exactly-once, quarantine."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from engage.config import load_config
from engage.landing.batches import BatchWriter, MarkInfo, committed_manifests, stream_state
from engage.warehouse.loader import CorruptBatchError, load_pending
from tests.conftest import write_config
from tests.handmade_batches import land_lines


def _writer(landing: Path, stream: str = "orders", **kwargs) -> BatchWriter:
    return BatchWriter(
        landing,
        source_instance="pretix_test",
        system="pretix",
        stream=stream,
        mode=kwargs.pop("mode", "incremental"),
        primary_key=kwargs.pop("primary_key", ["code"]),
        cursor_field=kwargs.pop("cursor_field", "last_modified"),
        extractor_version="test",
        **kwargs,
    )


def test_a_batch_is_invisible_until_committed_and_gone_when_aborted(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    writer.write([{"code": "A", "last_modified": "2024-01-01T00:00:00+00:00"}])
    assert list(committed_manifests(tmp_path)) == []
    writer.commit(
        cursor_end="2024-01-01T00:00:00+00:00",
        cursor_marks={"": MarkInfo(end="2024-01-01T00:00:00+00:00", keys=["A"])},
    )
    assert len(list(committed_manifests(tmp_path))) == 1
    aborted = _writer(tmp_path)
    aborted.write([{"code": "B"}])
    aborted.abort()
    assert not aborted.directory.exists()
    assert len(list(committed_manifests(tmp_path))) == 1


def test_the_cursor_is_the_highest_committed_end_compared_as_instants(tmp_path: Path) -> None:
    for end, key in [
        ("2024-01-01T10:00:00+01:00", "A"),
        ("2024-01-01T09:30:00Z", "B"),
        ("2024-01-01T09:00:00Z", "C"),
    ]:
        writer = _writer(tmp_path)
        writer.write([{"code": key, "last_modified": end}])
        writer.commit(cursor_end=end, cursor_marks={"": MarkInfo(end=end, keys=[key])})
    state = stream_state(tmp_path, "pretix_test", "orders")
    assert state.marks[""].end == "2024-01-01T09:30:00Z"  # 10:00+01:00 is 09:00Z
    assert state.marks[""].keys == ["B"]


def test_integer_cursors_are_kept_per_partition(tmp_path: Path) -> None:
    for survey, last_id in [("111", "9"), ("111", "10"), ("222", "3")]:
        writer = _writer(
            tmp_path, "responses", cursor_field="id", cursor_type="integer", partition_field="sid"
        )
        writer.write([{"code": f"{survey}:{last_id}", "id": last_id, "sid": survey}])
        writer.commit(
            cursor_end=last_id, cursor_marks={survey: MarkInfo(end=last_id, keys=[f"{survey}:{last_id}"])}
        )
    marks = stream_state(tmp_path, "pretix_test", "responses").marks
    assert {p: m.end for p, m in marks.items()} == {"111": "10", "222": "3"}  # 10 > 9 as numbers


def _landed(tmp_path: Path, lines: list[bytes]) -> Path:
    """A config whose landing zone holds one hand-written batch of pretix orders."""
    config_path = write_config(tmp_path, "http://127.0.0.1:1/")
    land_lines(
        tmp_path / "landing", lines, source_instance="pretix_test", system="pretix", stream="orders",
        primary_key=["code"], cursor_field="last_modified",
    )  # fmt: skip
    return config_path


GOOD = b'{"code":"A","last_modified":"2024-01-01T00:00:00+00:00"}\n'
LINES = [
    GOOD,
    b'{"last_modified":"2024-01-02T00:00:00+00:00","positions":[]}\n',  # no key
    b'{"code":"","last_modified":"2024-01-02T00:00:00+00:00"}\n',  # blank key
    b'{"code":"C","last_modified":"yesterday"}\n',  # bad cursor
    b'{"code":"D"}\n',  # no cursor
    b'{"code": "E", "last_modified": \n',  # truncated JSON
    b'["an", "array"]\n',  # not an object
    # flagged by the extractor's own validation (e.g. a registry row against its declared schema)
    b'{"code":"G","last_modified":"2024-01-03T00:00:00Z",'
    b'"_quarantine_reason":"row 7: date_joined is not a date"}\n',
    # right-to-left text and an emoji, escaped as json.dumps writes them
    b'{"code":"F","last_modified":"2024-01-03T00:00:00Z",'
    b'"note":"\\u0645\\u0631\\u062d\\u0628\\u0627 \\ud83d\\ude00"}\n',
    b'{"code":"\xff\xfe","last_modified":"2024-01-04T00:00:00Z"}\n',  # not UTF-8: a corrupt file
    b'{"code":"H","last_modified":"2024-01-05T00:00:00Z"}\n',  # keeps its line number after it
]


def test_bad_lines_go_to_quarantine_with_reasons_and_the_rest_load(tmp_path: Path) -> None:
    config = load_config(_landed(tmp_path, LINES))
    [result] = load_pending(config)
    assert (result.loaded, result.quarantined) == (3, 8)
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        keys = con.execute(
            "select record_key, line_number from raw.pretix__orders order by line_number"
        ).fetchall()
        reasons = dict(con.execute("select line_number, reason from quarantine.records").fetchall())
        audit = con.execute(
            "select manifest_rows, loaded_rows, quarantined_rows from audit.batches"
        ).fetchall()
    assert keys == [("A", 1), ("F", 9), ("H", 11)]  # F: right-to-left text and emoji load as they are
    assert reasons == {
        2: "missing primary key (code)",
        3: "missing primary key (code)",
        4: "cursor field last_modified is not a timestamp: yesterday",
        5: "missing cursor field last_modified",
        6: "unparseable JSON",
        7: "not a JSON object",
        8: "row 7: date_joined is not a date",
        10: "not valid UTF-8 (the landed bytes are kept in the landing zone)",
    }
    assert audit == [(11, 3, 8)]


def test_loading_twice_is_a_no_op(tmp_path: Path) -> None:
    config = load_config(_landed(tmp_path, [GOOD]))
    assert len(load_pending(config)) == 1
    assert load_pending(config) == []
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from raw.pretix__orders").fetchone() == (1,)


def test_a_batch_that_does_not_match_its_manifest_is_refused(tmp_path: Path) -> None:
    config = load_config(_landed(tmp_path, [GOOD]))
    [(directory, _)] = list(committed_manifests(config.landing_dir))
    with gzip.open(directory / "part-00000.ndjson.gz", "ab") as handle:
        handle.write(GOOD)
    with pytest.raises(CorruptBatchError, match="expected 1 rows"):
        load_pending(config)


def test_a_loaded_part_is_not_held_until_the_batch_commits(tmp_path: Path) -> None:
    """The parts of a batch share one transaction: DuckDB must not keep the Arrow data of a part it
    has loaded (a view registered in a transaction did, until the commit: 1.3 GB for 1M records)."""
    import sys
    from array import array

    import pyarrow as pa

    from engage.warehouse.loader import _classify_sql, _load_part, connect_for_loading
    from engage.warehouse.schema import ensure_raw_table, ensure_schemas

    config = load_config(_landed(tmp_path, [GOOD]))
    [(_, manifest)] = list(committed_manifests(config.landing_dir))
    body = b"".join(GOOD.rstrip(b"\n") for _ in range(1000))
    ends = array("q", range(0, len(body) + 1, len(GOOD) - 1))  # line i is body[ends[i]:ends[i + 1]]
    baseline = sys.getrefcount(body)
    lines = pa.Array.from_buffers(pa.large_string(), 1000, [None, pa.py_buffer(ends), pa.py_buffer(body)])
    part = pa.table(
        {
            "line_number": pa.array(range(1, 1001), pa.int64()),
            "line": lines,
            "read_error": pa.nulls(1000, pa.string()),
        }
    )
    with connect_for_loading(tmp_path / "warehouse.duckdb") as con:
        ensure_schemas(con)
        table = ensure_raw_table(con, "pretix", "orders")
        con.execute("begin transaction")
        loaded, quarantined = _load_part(con, part, _classify_sql(manifest), table, manifest)
        del part, lines
        assert (loaded, quarantined) == (1000, 0)
        assert sys.getrefcount(body) == baseline  # nothing of the part is referenced any more
        con.execute("commit")


def test_the_loaders_memory_limit_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engage.warehouse.loader import connect_for_loading

    with connect_for_loading(tmp_path / "default.duckdb") as con:
        assert con.execute("select current_setting('memory_limit')").fetchone() == ("953.6 MiB",)  # 1GB
    monkeypatch.setenv("ENGAGE_LOAD_MEMORY_LIMIT", "512MB")
    with connect_for_loading(tmp_path / "set.duckdb") as con:
        assert con.execute("select current_setting('memory_limit')").fetchone() == ("488.2 MiB",)
    monkeypatch.setenv("ENGAGE_LOAD_MEMORY_LIMIT", "plenty")
    with pytest.raises(ValueError, match="ENGAGE_LOAD_MEMORY_LIMIT='plenty': expected a DuckDB memory size"):
        connect_for_loading(tmp_path / "bad.duckdb")
