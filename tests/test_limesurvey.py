"""LimeSurvey (RemoteControl 2 JSON-RPC): contract tests on recorded shapes, then the whole path
through the simulator (extract -> load -> dbt build -> staging)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from engage.config import PipelineConfig, load_config
from engage.extract import extract_stream
from engage.privacy.pseudonymise import DEMO_KEY, Pseudonymiser
from engage.warehouse.dbt import build
from engage.warehouse.loader import load_pending
from extractors.http import SourceError
from extractors.limesurvey import PSEUDONYMISED_CODES
from tests.conftest import write_config
from tests.scripted_server import scripted_server
from tests.simulator_forms import simulator_surveys

CONTRACTS = Path(__file__).parent / "contracts" / "limesurvey"
USER_ENV, PASSWORD_ENV = "ENGAGE_TEST_LIMESURVEY_USER", "ENGAGE_TEST_LIMESURVEY_PASSWORD"
SIM_USER_ENV, SIM_PASSWORD_ENV = "ENGAGE_TEST_LIMESURVEY_SIM_USER", "ENGAGE_TEST_LIMESURVEY_SIM_PASSWORD"
PASSWORD = "contract-test-password"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PSEUDONYMS = Pseudonymiser(DEMO_KEY.encode("utf-8"))


def _fixture(name: str) -> Any:
    return json.loads((CONTRACTS / name).read_text(encoding="utf-8"))


def _config(folder: Path, endpoint: str, name: str = "ls_contract", **source: Any) -> PipelineConfig:
    folder.mkdir(parents=True, exist_ok=True)
    entry = {
        "kind": "limesurvey",
        "base_url": endpoint,
        "credentials": {"username_env": USER_ENV, "password_env": PASSWORD_ENV},
        "http": {"page_size": 2, "backoff_factor": 0.01, "max_retries": 3},
        **source,
    }
    surveys = simulator_surveys(limesurvey=name)  # the simulator's surveys, as a deployment lists them
    return load_config(write_config(folder, "http://unused.invalid/", sources={name: entry}, surveys=surveys))


def _landed(config: PipelineConfig, stream: str) -> list[dict[str, Any]]:
    records = []
    for part in sorted(config.landing_dir.rglob(f"{stream}/batch=*/part-*.ndjson.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle]
    return records


def _export_answer(document: dict[str, Any], params: list[Any]) -> dict[str, Any]:
    """export_responses over a recorded document: the from/to id range and `fields`, as LimeSurvey."""
    first, last, fields = params[7], params[8], params[9]
    rows = []
    for row in document["responses"]:
        response = next(iter(row.values())) if len(row) == 1 else row
        number = int(response["id"])
        if (first is not None and number < first) or (last is not None and number > last):
            continue
        if fields:
            kept = {k: v for k, v in response.items() if k in {"id", *fields}}
            row = {next(iter(row)): kept} if len(row) == 1 else kept
        rows.append(row)
    # 6.4.2: a window with no response in it is an empty document, not a status
    encoded = base64.b64encode(json.dumps({"responses": rows}).encode()).decode()
    return {"id": 3, "result": encoded, "error": None}


def _export_by_survey(params: list[Any], nth: int) -> tuple[int, dict[str, str], Any]:
    """The recorded answers per survey: two with responses, an empty active one, an inactive one."""
    sid = params[1]
    if sid == 719305:
        return 200, {}, _fixture("export_responses_no_data_max_id.json")
    if sid == 824461:
        return 200, {}, _fixture("export_responses_survey_table_missing.json")
    if sid not in (461572, 538214):
        return 200, {}, _fixture("export_responses_no_permission.json")
    document = _fixture("export_responses_keyed.json" if sid == 461572 else "export_responses_flat.json")
    return 200, {}, _export_answer(document, params)


Script = dict[str, Callable[[list[Any], int], tuple[int, dict[str, str], Any]]]


def _rpc(script: Script, calls: list[str]) -> Callable[..., tuple[int, dict[str, str], Any]]:
    """A scripted JSON-RPC server: script[method](params, nth call of that method) -> reply."""

    def answer(path: str, n: int, body: bytes = b"") -> tuple[int, dict[str, str], Any]:
        request = json.loads(body)
        calls.append(request["method"])
        return script[request["method"]](request["params"], calls.count(request["method"]))

    return answer


def _ok(name: str) -> Callable[[list[Any], int], tuple[int, dict[str, str], Any]]:
    return lambda params, nth: (200, {}, _fixture(name))


BASE_SCRIPT: Script = {
    "get_session_key": _ok("get_session_key_ok.json"),
    "release_session_key": _ok("release_session_key_ok.json"),
    "list_surveys": _ok("list_surveys.json"),
    "export_responses": _export_by_survey,
}


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_ENV, "pipeline")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


# -- contract tests on recorded shapes ----------------------------------------------------------


def test_a_refused_login_raises_a_source_error_naming_the_source_and_hides_the_password(tmp_path) -> None:
    calls: list[str] = []
    script = {**BASE_SCRIPT, "get_session_key": _ok("get_session_key_invalid.json")}
    with scripted_server(_rpc(script, calls)) as (url, _):
        config = _config(tmp_path, url + "index.php/admin/remotecontrol")
        with pytest.raises(SourceError) as raised:
            extract_stream(config, "ls_contract", "surveys")
    message = str(raised.value)
    assert "ls_contract" in message and "get_session_key" in message
    assert "Invalid user name or password" in message and PASSWORD not in message
    assert calls == ["get_session_key"]  # no key: nothing to release, nothing else tried


def test_both_export_shapes_land_as_flat_pseudonymised_responses_keyed_by_survey_and_id(tmp_path) -> None:
    calls: list[str] = []
    with scripted_server(_rpc(BASE_SCRIPT, calls)) as (url, _):
        config = _config(tmp_path, url + "index.php/admin/remotecontrol")
        result = extract_stream(config, "ls_contract", "responses")
    landed = _landed(config, "responses")
    keyed = {f"{r['_survey_id']}:{r['id']}": r for r in landed}
    assert sorted(keyed) == ["461572:12", "461572:13", "461572:15", "538214:4", "538214:5"]
    assert result.records == len(landed)
    assert all(isinstance(r["id"], int) for r in landed)
    # the inactive survey 824461 is not read; each active one: ids, then windows of page_size ids
    # (the empty active survey 719305 answers its ids call "No Data, could not get max id.")
    exported = [c for c in calls if c == "export_responses"]
    assert len(exported) == (1 + 2) + (1 + 1) + 1
    assert calls.count("get_session_key") == 1 and calls[-1] == "release_session_key"
    # the same person, typed differently in two surveys, gets one pseudonym (pretix's too)
    ana = PSEUDONYMS.pseudonym("ana.perez@example.org")
    assert keyed["461572:12"]["CORREO_pseudonym"] == ana == keyed["538214:4"]["EMAIL_pseudonym"]
    assert keyed["461572:12"]["NOMBRE_pseudonym"] == PSEUDONYMS.pseudonym("Ana Pérez")
    assert keyed["461572:13"]["submitdate"] is None and keyed["461572:13"]["SATISF[SQ001]"] == "A3"
    assert keyed["538214:5"]["submitdate"] == "" and keyed["538214:5"]["APPLIED"] == ""
    assert not [r for r in landed if "token" in r]  # a participant's access code never lands
    text = json.dumps(landed, ensure_ascii=False)
    assert not EMAIL.search(text) and "Ana Pérez" not in text
    assert not any(code in r for r in landed for code in PSEUDONYMISED_CODES)


def test_no_response_found_is_an_empty_page_and_a_rerun_skips_the_boundary(tmp_path) -> None:
    calls: list[str] = []
    with scripted_server(_rpc(BASE_SCRIPT, calls)) as (url, _):
        config = _config(tmp_path, url + "index.php/admin/remotecontrol")
        first = extract_stream(config, "ls_contract", "responses")
        calls.clear()
        second = extract_stream(config, "ls_contract", "responses")
    assert first.batch_id is not None and first.cursor_end == "15"
    # the second run reads from each survey's last id (inclusive): only the boundary comes back
    assert (second.batch_id, second.records) == (None, 0)
    assert second.note.startswith("nothing new;")
    script = {**BASE_SCRIPT, "export_responses": _ok("export_responses_no_response_found.json")}
    calls.clear()
    with scripted_server(_rpc(script, calls)) as (url, _):
        empty = extract_stream(_config(tmp_path / "empty", url + "x"), "ls_contract", "responses")
    assert (empty.batch_id, empty.note.split(";")[0]) == (None, "nothing new")
    assert calls.count("export_responses") == 3 and calls[-1] == "release_session_key"


def test_an_empty_active_survey_and_an_inactive_one_are_named_and_the_others_land(tmp_path) -> None:
    """The shipped config (survey_ids: []) against 6.4.2's answers: one run, every response."""
    calls: list[str] = []
    with scripted_server(_rpc(BASE_SCRIPT, calls)) as (url, _):
        result = extract_stream(_config(tmp_path, url + "rc"), "ls_contract", "responses")
    assert result.records == 5 and result.batch_id is not None
    assert "survey 719305: no responses yet" in result.note
    assert "survey 824461: not active" in result.note


def test_one_refused_survey_is_reported_and_does_not_stop_the_others(tmp_path) -> None:
    calls: list[str] = []
    with scripted_server(_rpc(BASE_SCRIPT, calls)) as (url, _):
        config = _config(tmp_path, url + "rc", survey_ids=[461572, 824461, 538214, 999999])
        result = extract_stream(config, "ls_contract", "responses")
    assert sorted({r["_survey_id"] for r in _landed(config, "responses")}) == [461572, 538214]
    assert result.records == 5
    assert "survey 824461: refused: No Data, survey table does not exist." in result.note
    assert "survey 999999: configured but not listed" in result.note
    assert calls[-1] == "release_session_key"


def test_every_survey_refused_fails_the_run_instead_of_passing_with_a_note(tmp_path) -> None:
    script = {**BASE_SCRIPT, "export_responses": _ok("export_responses_no_permission.json")}
    with scripted_server(_rpc(script, [])) as (url, _):
        with pytest.raises(SourceError, match="export_responses refused: No permission"):
            extract_stream(_config(tmp_path, url + "rc", survey_ids=[461572]), "ls_contract", "responses")
    assert _landed(_config(tmp_path, "http://unused.invalid/rc"), "responses") == []


def test_a_503_from_get_session_key_does_not_blame_the_credentials(tmp_path) -> None:
    calls: list[str] = []
    script = {**BASE_SCRIPT, "get_session_key": lambda params, nth: (503, {}, {"detail": "down"})}
    with scripted_server(_rpc(script, calls)) as (url, _):
        config = _config(tmp_path, url + "rc", http={"max_retries": 1, "backoff_factor": 0.01})
        with pytest.raises(SourceError) as raised:
            extract_stream(config, "ls_contract", "surveys")
    assert "503" in str(raised.value) and "credentials" not in str(raised.value)


def test_a_429_with_retry_after_is_waited_out_and_retried(tmp_path) -> None:
    calls: list[str] = []

    def export(params: list[Any], nth: int) -> tuple[int, dict[str, str], Any]:
        if nth == 1:
            return 429, {"Retry-After": "1"}, {"detail": "Too many requests"}
        return BASE_SCRIPT["export_responses"](params, nth)

    with scripted_server(_rpc({**BASE_SCRIPT, "export_responses": export}, calls)) as (url, _):
        config = _config(tmp_path, url + "rc", survey_ids=[538214])
        result = extract_stream(config, "ls_contract", "responses")
    assert result.records == 2
    assert calls.count("export_responses") == 1 + (1 + 1)  # the refused call, then ids and one window


def test_the_session_key_is_released_when_an_export_fails(tmp_path) -> None:
    calls: list[str] = []
    script = {**BASE_SCRIPT, "export_responses": _ok("export_responses_internal_error.json")}
    with scripted_server(_rpc(script, calls)) as (url, _):
        config = _config(tmp_path, url + "rc")
        with pytest.raises(SourceError, match=r"ls_contract: export_responses failed: Internal error"):
            extract_stream(config, "ls_contract", "responses")
    assert calls[-1] == "release_session_key" and calls.count("release_session_key") == 1
    assert _landed(config, "responses") == []


def test_an_invalid_session_key_status_is_an_error_not_an_empty_page(tmp_path) -> None:
    calls: list[str] = []
    invalid = (200, {}, {"id": 2, "result": {"status": "Invalid session key"}, "error": None})
    script = {**BASE_SCRIPT, "list_surveys": lambda params, nth: invalid}
    with scripted_server(_rpc(script, calls)) as (url, _):
        with pytest.raises(SourceError, match="ls_contract: list_surveys refused: Invalid session key"):
            extract_stream(_config(tmp_path, url + "rc"), "ls_contract", "surveys")
    assert calls[-1] == "release_session_key"


# -- end to end through the simulator -----------------------------------------------------------


@pytest.fixture(scope="module")
def limesurvey_sim() -> Iterator[Any]:
    """This module adds responses at the source, so it gets a simulator of its own."""
    from simulator.server import start_simulator

    with start_simulator(port=0) as handle:
        yield handle


@pytest.fixture(scope="module")
def expected() -> Any:
    from simulator import limesurvey_data, pretix_data

    return limesurvey_data.generate(pretix_data.generate())


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, limesurvey_sim: Any) -> PipelineConfig:
    from simulator.limesurvey_api import DEMO_LIMESURVEY_PASSWORD, DEMO_LIMESURVEY_USER

    os.environ[SIM_USER_ENV], os.environ[SIM_PASSWORD_ENV] = DEMO_LIMESURVEY_USER, DEMO_LIMESURVEY_PASSWORD
    endpoint = limesurvey_sim.base_url + "/limesurvey/index.php/admin/remotecontrol"
    config = _config(
        tmp_path_factory.mktemp("limesurvey_e2e"),
        endpoint,
        "limesurvey_test",
        credentials={"username_env": SIM_USER_ENV, "password_env": SIM_PASSWORD_ENV},
        http={"page_size": 100},
    )
    for stream in ("surveys", "responses"):
        extract_stream(config, "limesurvey_test", stream)
    load_pending(config)
    nodes = build(config)
    limesurvey_nodes = [n for n in nodes if "limesurvey" in n.name]
    assert len(limesurvey_nodes) > 10  # three models and their tests ran
    assert [n for n in limesurvey_nodes if n.status not in ("success", "pass")] == []  # no warning either
    return config


def _query(config: PipelineConfig, sql: str) -> list[tuple]:
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_staging_holds_what_the_simulator_serves(e2e: PipelineConfig, expected: Any) -> None:
    active = [s for s in expected.surveys.values() if s.active == "Y"]
    responses = [r for s in active for r in s.responses]
    answers = sum(
        len([q for q in s.questions if q not in PSEUDONYMISED_CODES]) * len(s.responses) for s in active
    )
    assert len(responses) > 300  # the scan below and the counts look at real data
    assert _query(
        e2e, "select count(*), count(*) filter (where is_active) from staging.stg_limesurvey__surveys"
    ) == [(len(expected.surveys), len(active))]
    [(count, complete, surveys)] = _query(
        e2e,
        "select count(*), count(*) filter (where is_complete), count(distinct survey_id) "
        "from staging.stg_limesurvey__responses",
    )
    assert count == len(responses)
    assert complete == sum(1 for r in responses if r["submitdate"] is not None) < count
    assert surveys == len([s for s in active if s.responses])
    assert _query(e2e, "select count(*) from staging.stg_limesurvey__answers") == [(answers,)]


def test_respondents_share_the_pretix_pseudonym_and_activity_codes_are_event_slugs(e2e, expected) -> None:
    from simulator.limesurvey_data import EVALUATION_SID

    first = expected.surveys[EVALUATION_SID].responses[0]
    [(pseudonym, activity)] = _query(
        e2e,
        "select respondent_pseudonym, activity_code from staging.stg_limesurvey__responses "
        f"where survey_id = {EVALUATION_SID} and response_id = 1",
    )
    assert pseudonym == PSEUDONYMS.pseudonym(first["CORREO"])
    assert activity == first["ACTIVIDAD"].strip().lower()
    assert _query(
        e2e, "select count(*) from staging.stg_limesurvey__responses where activity_code is null"
    ) == [(0,)]


def test_a_second_extract_lands_nothing_and_a_new_response_is_the_only_one_landed(
    e2e, limesurvey_sim
) -> None:
    from simulator.limesurvey_data import FOLLOW_UP_SID

    surveys = extract_stream(e2e, "limesurvey_test", "surveys")
    responses = extract_stream(e2e, "limesurvey_test", "responses")
    assert (surveys.batch_id, surveys.note) == (None, "unchanged snapshot")
    assert responses.batch_id is None and responses.note.startswith("nothing new")

    added = requests.post(
        f"{limesurvey_sim.base_url}/_sim/limesurvey/surveys/{FOLLOW_UP_SID}/responses",
        json={"ACTIVITY": "p1-2024-001", "EMAIL": "New.Respondent@example.org", "APPLIED": "Y"},
        timeout=10,
    )
    added.raise_for_status()
    after = extract_stream(e2e, "limesurvey_test", "responses")
    assert after.records == 1
    [batch] = [p for p in e2e.landing_dir.rglob("part-*.ndjson.gz") if after.batch_id in str(p)]
    with gzip.open(batch, "rt", encoding="utf-8") as handle:
        [record] = [json.loads(line) for line in handle]
    assert (record["_survey_id"], record["id"]) == (FOLLOW_UP_SID, added.json()["id"])
    assert record["EMAIL_pseudonym"] == PSEUDONYMS.pseudonym("new.respondent@example.org")


def test_a_response_saved_incomplete_and_completed_later_is_read_again(e2e, limesurvey_sim) -> None:
    """Resume keeps the id: the run after the completion re-reads it below the cursor."""
    from simulator.limesurvey_data import EVALUATION_SID

    control = f"{limesurvey_sim.base_url}/_sim/limesurvey/surveys/{EVALUATION_SID}/responses"
    saved = requests.post(
        control,
        json={"ACTIVIDAD": "p1-2024-001", "CORREO": "later@example.org", "_incomplete": True},
        timeout=10,
    )
    saved.raise_for_status()
    rid = saved.json()["id"]
    first = extract_stream(e2e, "limesurvey_test", "responses")
    # a later response moves the cursor past the incomplete one
    requests.post(control, json={"ACTIVIDAD": "p1-2024-001"}, timeout=10).raise_for_status()
    second = extract_stream(e2e, "limesurvey_test", "responses")
    requests.post(f"{control}/{rid}/complete", timeout=10).raise_for_status()
    third = extract_stream(e2e, "limesurvey_test", "responses")

    def landed(result: Any) -> list[dict[str, Any]]:
        [part] = [p for p in e2e.landing_dir.rglob("part-*.ndjson.gz") if result.batch_id in str(p)]
        with gzip.open(part, "rt", encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    [(was_id, was_submitted)] = [(r["id"], r["submitdate"]) for r in landed(first)]
    assert (was_id, was_submitted) == (rid, "")
    assert [r["id"] for r in landed(second)] == [rid + 1]
    [completed] = landed(third)
    assert completed["id"] == rid and completed["submitdate"] != "" and "_reread" not in completed
    assert int(third.cursor_end) < int(second.cursor_end)  # a re-read never moves a cursor on
    # LimeSurvey's times have no zone: for a day of slack the completion is read again, and only it
    again = extract_stream(e2e, "limesurvey_test", "responses")
    assert [r["id"] for r in landed(again)] == [rid]


def test_no_respondent_email_or_name_in_landing_or_raw(e2e: PipelineConfig, expected: Any) -> None:
    people = {
        str(r[code]).strip().lower()
        for s in expected.surveys.values()
        for r in s.responses
        for code in PSEUDONYMISED_CODES
        if r.get(code)
    }
    assert len(people) > 300

    def exposed(text: str) -> bool:
        return bool(EMAIL.search(text)) or any(value in text.lower() for value in people)

    for part in e2e.landing_dir.rglob("part-*.ndjson.gz"):
        with gzip.open(part, "rt", encoding="utf-8") as handle:
            assert not [line for line in handle if exposed(line)], part
    raw = _query(e2e, "select cast(record as varchar) from raw.limesurvey__responses")
    assert len(raw) > 300 and not [row for (row,) in raw if exposed(row)]
