"""The bad-input corpus (tests/bad_inputs.py) through the real loader, registry extractor and dbt.

Every bad record ends in quarantine with its reason, every odd-but-valid one loads unchanged, every
unusable registry file is rejected with a reason file, nothing raises, and audit.reconciliation
adds up per source and stream.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
import yaml

from engage.config import PipelineConfig, load_config
from engage.warehouse.dbt import TransformError, run_dbt
from engage.warehouse.loader import load_pending
from engage.warehouse.schema import ensure_schemas, raw_table
from extractors import registry
from extractors.streams import FetchContext
from tests.bad_inputs import FILE_CASES, RECORD_CASES, SQL_TEXT, RecordCase, Stream
from tests.bad_inputs_base import KOBO_FORM, LIME_SURVEY
from tests.conftest import write_config
from tests.handmade_batches import land_lines

# The item-map test fails by design on the corpus's new survey questions: it reports them.
EXPECTED_TEST_FAILURES = {"assert_survey_questions_mapped"}


def _land(landing: Path, stream: Stream, lines: list[bytes]) -> None:
    land_lines(
        landing, lines, source_instance=f"{stream.system}_corpus", system=stream.system,
        stream=stream.stream, primary_key=list(stream.primary_key), cursor_field=stream.cursor_field,
        cursor_type=stream.cursor_type,
    )  # fmt: skip


class Corpus(SimpleNamespace):
    config: PipelineConfig
    line_of: dict[str, tuple[Stream, int]]  # case name -> (stream, 1-based line number)
    lines: dict[Stream, int]
    results: list
    rejected: list[tuple[str, str]]
    registry_records: list
    inbox: Path
    dbt_nodes: dict[str, str]
    dbt_error: TransformError | None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("bad_inputs")
    # the corpus's survey sources, with their forms listed as a deployment lists them
    corpus_sources = {
        "kobotoolbox_corpus": {
            "kind": "kobotoolbox",
            "base_url": "http://127.0.0.1:1/",
            "credentials": {"token_env": "ENGAGE_CORPUS_TOKEN"},
        },
        "limesurvey_corpus": {
            "kind": "limesurvey",
            "base_url": "http://127.0.0.1:1/",
            "credentials": {"username_env": "ENGAGE_CORPUS_USER", "password_env": "ENGAGE_CORPUS_PASSWORD"},
        },
    }
    surveys = {
        "kobotoolbox_corpus": {"forms": {KOBO_FORM: "kobo_post_activity"}},
        "limesurvey_corpus": {"forms": {LIME_SURVEY: "limesurvey_post_activity_es"}},
    }
    path = write_config(folder, "http://127.0.0.1:1/", surveys=surveys)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["sources"].update(corpus_sources)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = load_config(path)
    by_stream: dict[Stream, list[RecordCase]] = defaultdict(list)
    for case in RECORD_CASES:
        by_stream[case.stream].append(case)
    line_of = {}
    for stream, cases in by_stream.items():
        _land(config.landing_dir, stream, [c.line for c in cases])
        line_of.update({c.name: (stream, n) for n, c in enumerate(cases, start=1)})
    results = load_pending(config)

    inbox = folder / "inbox"
    inbox.mkdir()
    for case in FILE_CASES:
        (inbox / case.file_name).write_bytes(case.data)
    context = FetchContext()
    source = SimpleNamespace(inbox=inbox)
    records = [r for page in registry.STREAMS["experts"].fetch(None, source, context) for r in page]

    nodes: dict[str, str] = {}
    error = None
    try:
        # as a real deployment runs it: the demo's headline figures are not this corpus's
        run_dbt(config, ["build", "--exclude", "tag:demo_figures"], on_node=nodes.__setitem__)
    except TransformError as exc:
        error = exc
    return Corpus(
        config=config,
        line_of=line_of,
        lines={s: len(c) for s, c in by_stream.items()},
        results=results,
        rejected=context.rejected,
        registry_records=records,
        inbox=inbox,
        dbt_nodes=nodes,
        dbt_error=error,
    )


def _con(corpus: Corpus) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(corpus.config.warehouse_path), read_only=True)


def test_the_corpus_is_big_enough() -> None:
    assert len(RECORD_CASES) + len(FILE_CASES) >= 40
    kinds = {c.expect.split(":")[0] for c in [*RECORD_CASES, *FILE_CASES]}
    assert kinds == {"loaded", "quarantine", "rejected file"}


@pytest.mark.parametrize("case", RECORD_CASES, ids=lambda c: c.name)
def test_each_record_case(corpus: Corpus, case: RecordCase) -> None:
    stream, line_number = corpus.line_of[case.name]
    source = f"{stream.system}_corpus"
    with _con(corpus) as con:
        reasons = con.execute(
            "select reason, raw_line from quarantine.records "
            "where source_instance = ? and stream = ? and line_number = ?",
            [source, stream.stream, line_number],
        ).fetchall()
        rows = con.execute(
            f"select record::varchar from {raw_table(stream.system, stream.stream)} "
            "where source_instance = ? and line_number = ?",
            [source, line_number],
        ).fetchall()
    if case.expect == "loaded":
        assert reasons == []
        assert len(rows) == 1
        assert json.loads(rows[0][0]) == json.loads(case.line)
    else:
        expected = case.expect.removeprefix("quarantine: ")
        assert rows == []
        assert len(reasons) == 1
        assert expected in reasons[0][0]


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.name)
def test_each_bad_registry_file_is_rejected_with_a_reason(corpus: Corpus, case) -> None:
    expected = case.expect.removeprefix("rejected file: ")
    reasons = dict(corpus.rejected)
    assert expected in reasons[case.file_name]
    rejected = corpus.inbox / registry.REJECTED_FOLDER
    assert (rejected / case.file_name).read_bytes() == case.data
    assert expected in (rejected / f"{case.file_name}.reason.txt").read_text(encoding="utf-8")
    assert not (corpus.inbox / case.file_name).exists()


def test_no_rejected_file_lands_a_record(corpus: Corpus) -> None:
    assert corpus.registry_records == []
    assert len(corpus.rejected) == len(FILE_CASES)


def test_every_batch_loaded_and_the_counts_add_up(corpus: Corpus) -> None:
    assert len(corpus.results) == len(corpus.lines)
    for result in corpus.results:
        [stream] = [
            s
            for s in corpus.lines
            if f"{s.system}_corpus" == result.source_instance and s.stream == result.stream
        ]
        cases = [c for c in RECORD_CASES if c.stream == stream]
        assert result.loaded + result.quarantined == corpus.lines[stream]
        assert result.loaded == sum(c.expect == "loaded" for c in cases)
        assert result.quarantined == sum(c.expect.startswith("quarantine") for c in cases)


def test_reconciliation_view_matches_per_source_and_stream(corpus: Corpus) -> None:
    with _con(corpus) as con:
        rows = con.execute(
            "select source_instance, stream, batches, source_rows, loaded_rows, quarantined_rows, "
            "is_mismatch from audit.reconciliation"
        ).fetchall()
    expected = set()
    for stream, n in corpus.lines.items():
        cases = [c for c in RECORD_CASES if c.stream == stream]
        loaded = sum(c.expect == "loaded" for c in cases)
        expected.add((f"{stream.system}_corpus", stream.stream, 1, n, loaded, n - loaded, False))
    assert set(rows) == expected


def test_reconciliation_flags_a_mismatch(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_schemas(con)
        for batch_id, manifest, loaded, quarantined in [("a", 10, 8, 2), ("b", 5, 3, 1), ("c", 4, 4, 0)]:
            source = "lost" if batch_id == "b" else "fine"
            con.execute(
                "insert into audit.batches values (?, ?, 'pretix', 'orders', 'incremental', ?, ?, ?, "
                "null, null, null, now(), null, null)",
                [batch_id, source, manifest, loaded, quarantined],
            )
        rows = con.execute(
            "select source_instance, source_rows, loaded_rows, quarantined_rows, is_mismatch "
            "from audit.reconciliation order by source_instance"
        ).fetchall()
    assert rows == [("fine", 14, 12, 2, False), ("lost", 5, 3, 1, True)]


def test_dbt_builds_on_the_odd_but_valid_records(corpus: Corpus) -> None:
    errors = {n for n, s in corpus.dbt_nodes.items() if s == "error"}
    failures = {n for n, s in corpus.dbt_nodes.items() if s == "fail"}
    assert errors == set(), corpus.dbt_error
    assert failures <= EXPECTED_TEST_FAILURES, corpus.dbt_error
    assert corpus.dbt_nodes.get("assert_survey_questions_mapped") == "fail"  # the new questions reported


def test_sql_looking_strings_stay_plain_text(corpus: Corpus) -> None:
    with _con(corpus) as con:
        codes = {r[0] for r in con.execute("select order_code from staging.stg_pretix__orders").fetchall()}
        names = {r[0] for r in con.execute("select activity_name from staging.stg_pretix__events").fetchall()}
        assert con.execute("select count(*) from raw.pretix__orders").fetchone()[0] > 0
    assert SQL_TEXT in codes
    assert SQL_TEXT in names


def test_staging_keeps_the_latest_of_conflicting_updates(corpus: Corpus) -> None:
    with _con(corpus) as con:
        rows = con.execute(
            "select order_status from staging.stg_pretix__orders where order_code = 'DUP'"
        ).fetchall()
    assert rows == [("c",)]
