"""KoboToolbox: contract tests on recorded API v2 shapes, the simulator, and a run end to end."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
import requests

from engage.config import PipelineConfig, load_config
from engage.extract import extract_stream
from engage.privacy.pseudonymise import DEMO_KEY, Pseudonymiser
from engage.warehouse.dbt import build
from engage.warehouse.loader import load_pending
from extractors.http import SourceError
from extractors.kobotoolbox import IDENTIFYING_QUESTIONS, kobo_timestamp
from extractors.streams import Window
from simulator.kobo_api import DEMO_KOBO_TOKEN
from simulator.kobo_data import is_answer_key
from tests.conftest import write_config
from tests.scripted_server import scripted_server
from tests.simulator_forms import simulator_surveys

CONTRACTS = Path(__file__).parent / "contracts" / "kobotoolbox"
TOKEN_ENV = "ENGAGE_TEST_KOBO_TOKEN"
SOURCE = "kobo_test"
UID = "aNGKgubTJPARiJzgtTBqRN"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PSEUDONYMS = Pseudonymiser(DEMO_KEY.encode())


def _fixture(name: str, base: str = "http://kobo.invalid/") -> dict[str, Any]:
    data = json.loads((CONTRACTS / name).read_text(encoding="utf-8").replace("{base}", base))
    data.pop("_source", None)
    return data


def _config(folder: Path, base_url: str, **source: Any) -> PipelineConfig:
    os.environ[TOKEN_ENV] = DEMO_KOBO_TOKEN
    kobo = {
        "kind": "kobotoolbox",
        "base_url": base_url,
        "credentials": {"token_env": TOKEN_ENV},
        "http": {"page_size": 2, "backoff_factor": 0.01, "max_retries": 2},
        **source,
    }
    surveys = simulator_surveys(kobo=SOURCE)  # the simulator's forms, as a deployment lists them
    return load_config(write_config(folder, "http://127.0.0.1:9/", sources={SOURCE: kobo}, surveys=surveys))


def _landed(config: PipelineConfig, stream: str) -> list[dict[str, Any]]:
    records = []
    for part in sorted((config.landing_dir / SOURCE / stream).rglob("part-*.ndjson.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle]
    return records


def _data_answer(data_pages: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
    """The data endpoint from the recorded pages, as KoboToolbox answers it: by `start`, or, for a
    query bounding `_id` (how the extractor pages), the recorded records past the bound with the
    query's own `count`."""
    bound = json.loads(query.get("query", ["{}"])[0]).get("_id", {}).get("$gt")
    if bound is None:
        return data_pages[query.get("start", ["0"])[0]]
    records = [r for key in sorted(data_pages, key=int) for r in data_pages[key]["results"]]
    after = [r for r in records if r["_id"] > bound]
    limit = int(query.get("limit", ["30000"])[0])
    return {**data_pages["0"], "count": len(after), "next": None, "results": after[:limit]}


@contextmanager
def _recorded_server(data_pages: dict[str, Any], extra: Any = None) -> Iterator[tuple[str, list[str]]]:
    """Answers like KoboToolbox from the recorded fixtures: assets list, asset detail, data pages
    (by `start`, or past an `_id` bound); `extra(path, n)` may answer a request first."""
    where: dict[str, str] = {}

    def answer(path: str, n: int):
        if extra is not None and (reply := extra(path, n)) is not None:
            return reply
        url = urlsplit(path)
        if url.path == "/api/v2/assets/":
            return 200, {}, _fixture("assets_list.json", where["base"])
        if url.path == f"/api/v2/assets/{UID}/":
            return 200, {}, _fixture("asset_detail.json", where["base"])
        if url.path == f"/api/v2/assets/{UID}/data/":
            return 200, {}, _data_answer(data_pages, parse_qs(url.query))
        return 404, {}, {"detail": "Not found."}

    with scripted_server(answer) as (url, log):
        where["base"] = url
        yield url, log


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[str, list[str], PipelineConfig]]:
    """A server answering from the recorded pages; page 2 is the last page (next: null)."""
    pages: dict[str, Any] = {}
    with _recorded_server(pages) as (url, log):
        pages["0"], pages["2"] = _fixture("data_page_1.json", url), _fixture("data_page_2.json", url)
        yield url, log, _config(tmp_path, url)


# -- contract: the extractor against recorded responses --------------------------------------------
def test_submissions_land_as_recorded_with_identifiers_pseudonymised(recorded) -> None:
    _, log, config = recorded
    result = extract_stream(config, SOURCE, "submissions")
    landed = _landed(config, "submissions")
    assert result.records == len(landed) == 3
    first, second, third = landed
    assert "respondent/email" not in first and "respondent/name" not in first
    assert first["respondent/email_pseudonym"] == PSEUDONYMS.pseudonym("ana.silva12@example.org")
    assert first["respondent/name_pseudonym"] == PSEUDONYMS.pseudonym("Ana Silva")
    assert "respondent/email_pseudonym" not in second  # an anonymous respondent stays anonymous
    recorded_third = _fixture("data_page_2.json")["results"][0]
    # The allow-list drops the identifier and the reviewers' and device metadata (docs/privacy.md).
    dropped = {"respondent/email", "_attachments", "_geolocation", "_notes", "_tags"}
    expected = {k: v for k, v in recorded_third.items() if k not in dropped}
    assert {k: v for k, v in third.items() if k != "respondent/email_pseudonym"} == expected
    assert third["support_requests"][1] == {
        "support_requests/topic": "strategy",
        "support_requests/urgency": "low",
    }
    data_requests = [parse_qs(urlsplit(p).query) for p in log if "/data/" in p]
    assert data_requests[0]["limit"] == ["2"] and json.loads(data_requests[0]["sort"][0]) == {"_id": 1}
    assert "query" not in data_requests[0]  # a first run reads everything
    # then by keyset, not by `start` (offsets shift when a submission is deleted mid-walk)
    assert [r.get("start") for r in data_requests] == [None, None]
    assert json.loads(data_requests[1]["query"][0]) == {"_id": {"$gt": 471990}}
    assert not any("bQ5Rw2LZkYbU6fJ8nTqAaA" in p for p in log)  # a block is not a survey


def test_the_next_run_asks_from_the_forms_cursor_and_lands_only_what_is_new(recorded) -> None:
    _, log, config = recorded
    extract_stream(config, SOURCE, "submissions")
    log.clear()
    again = extract_stream(config, SOURCE, "submissions")  # the recorded server answers the same
    query = json.loads(parse_qs(urlsplit(log[1]).query)["query"][0])
    assert query == {"_submission_time": {"$gte": "2023-02-01T09:07:05"}}  # Kobo's own format
    assert (again.batch_id, again.records) == (None, 0)


def test_a_backfill_window_is_sent_in_kobotoolbox_time_format(recorded) -> None:
    _, log, config = recorded
    extract_stream(config, SOURCE, "submissions", window=Window("2021-12-06T08:00:00+01:00", "2023-01-01"))
    query = json.loads(parse_qs(urlsplit(log[1]).query)["query"][0])
    assert query == {"_submission_time": {"$gte": "2021-12-06T07:00:00", "$lt": "2023-01-01T00:00:00"}}
    assert [r["_id"] for r in _landed(config, "submissions")] == [471990]
    assert kobo_timestamp("2024-03-02T10:11:12Z") == "2024-03-02T10:11:12"


def test_assets_land_as_the_detail_of_each_survey(recorded) -> None:
    url, _, config = recorded
    extract_stream(config, SOURCE, "assets")
    [asset] = _landed(config, "assets")
    recorded_asset = _fixture("asset_detail.json", url)
    # Only the declared fields land, with their values as recorded (docs/privacy.md).
    assert {k: recorded_asset[k] for k in asset if k != "deployed_versions"} == {
        k: v for k, v in asset.items() if k != "deployed_versions"
    }
    assert "permissions" not in asset and "content" not in asset and "owner" not in asset
    assert asset["deployed_versions"]["count"] == 2
    assert asset["deployed_versions"]["results"] == [
        {k: v[k] for k in ("uid", "content_hash", "date_deployed")}
        for v in recorded_asset["deployed_versions"]["results"]
    ]


def test_pagination_stops_on_an_empty_page(tmp_path: Path) -> None:
    pages: dict[str, Any] = {}
    with _recorded_server(pages) as (url, _):
        first, last = _fixture("data_page_1.json", url), _fixture("data_page_2.json", url)
        pages.update({"0": first, "2": last, "3": {**last, "results": []}})
        config = _config(tmp_path, url)
        result = extract_stream(config, SOURCE, "submissions")
    assert result.records == 3
    assert sorted(r["_id"] for r in _landed(config, "submissions")) == [471987, 471990, 472004]


def test_a_server_ignoring_the_keyset_query_fails_instead_of_looping(tmp_path: Path) -> None:
    """The same first page for "after _id X": the walk would never advance; it stops, loudly."""
    pages: dict[str, Any] = {}

    def ignore_query(path: str, n: int):
        if "/data/" in path:
            return 200, {}, pages["0"]
        return None

    with _recorded_server(pages, ignore_query) as (url, _):
        pages.update({"0": _fixture("data_page_1.json", url)})
        config = _config(tmp_path, url)
        with pytest.raises(SourceError, match=r"the source ignores the query; stopping"):
            extract_stream(config, SOURCE, "submissions")
    assert _landed(config, "submissions") == []


def test_auth_failure_names_the_source_and_hides_the_token(tmp_path: Path) -> None:
    def refuse(path: str, n: int):
        return 401, {"WWW-Authenticate": "Token"}, {"detail": "Invalid token."}

    with scripted_server(refuse) as (url, log):
        config = _config(tmp_path, url)
        with pytest.raises(SourceError, match=SOURCE) as raised:
            extract_stream(config, SOURCE, "submissions")
    assert DEMO_KOBO_TOKEN not in str(raised.value)
    assert len(log) == 1  # an auth failure is not retried
    assert not list((config.landing_dir).rglob("_MANIFEST.json"))


def test_429_with_retry_after_is_waited_out(tmp_path: Path) -> None:
    pages: dict[str, Any] = {}

    def throttle_once(path: str, n: int):
        return (429, {"Retry-After": "0"}, {"detail": "Request was throttled."}) if n == 2 else None

    with _recorded_server(pages, throttle_once) as (url, log):
        pages["0"], pages["2"] = _fixture("data_page_1.json", url), _fixture("data_page_2.json", url)
        config = _config(tmp_path, url)
        result = extract_stream(config, SOURCE, "submissions")
    assert result.records == 3
    assert len(log) == 4  # assets, data page 1 throttled then repeated, data page 2
    assert log[1] == log[2]


# -- contract: the simulator speaks the recorded shapes ---------------------------------------------
def _same_shape(recorded: Any, served: Any, where: str = "") -> list[str]:
    """Keys of the recorded response missing from the served one, or served with another JSON type."""
    if recorded is None or served is None:  # null stands for a value of any type
        return []
    if isinstance(recorded, dict):
        if not isinstance(served, dict):
            return [f"{where}: not an object"]
        problems = []
        for key, value in recorded.items():
            if key not in served:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += _same_shape(value, served[key], f"{where}.{key}")
        return problems
    if isinstance(recorded, list):
        if not (recorded and served):
            return []
        tries = [_same_shape(recorded[0], item, f"{where}[]") for item in served]
        return [] if [] in tries else tries[0]  # some served item has the recorded item's shape
    kinds = (bool, int, float, str)
    recorded_kind = next(k for k in kinds if isinstance(recorded, k))
    return [] if isinstance(served, recorded_kind) else [f"{where}: {type(served).__name__}"]


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    from simulator.server import start_simulator

    with start_simulator(port=0) as handle:
        yield handle


def _get(url: str, **params: Any) -> Any:
    response = requests.get(
        url, params=params, headers={"Authorization": f"Token {DEMO_KOBO_TOKEN}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def test_the_simulator_serves_the_recorded_shapes(sim) -> None:
    api = f"{sim.kobo_url}api/v2/assets/"
    listing = _get(api, format="json")
    assert _same_shape(_fixture("assets_list.json"), listing) == []
    survey = next(a for a in listing["results"] if a["has_deployment"] and a["deployment__submission_count"])
    assert _same_shape(_fixture("asset_detail.json"), _get(f"{api}{survey['uid']}/", format="json")) == []
    page = _get(f"{api}{survey['uid']}/data/", format="json", limit=2)
    recorded = _fixture("data_page_1.json")
    assert _same_shape({k: v for k, v in recorded.items() if k != "results"}, page) == []
    metadata = {k: v for k, v in recorded["results"][1].items() if not is_answer_key(k)}
    assert _same_shape(metadata, page["results"][0]) == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", page["results"][0]["_submission_time"])


def test_the_simulator_filters_sorts_and_pages_like_kobotoolbox(sim) -> None:
    api = f"{sim.kobo_url}api/v2/assets/"
    survey = next(
        a for a in _get(api, format="json", q="asset_type:survey")["results"] if a["has_deployment"]
    )
    data = f"{api}{survey['uid']}/data/"
    everything = _get(data, format="json")["results"]
    times = sorted(r["_submission_time"] for r in everything)
    middle = times[len(times) // 2]
    query = json.dumps({"_submission_time": {"$gte": middle}})
    page = _get(data, format="json", limit=50, query=query, sort='{"_submission_time": 1}')
    assert page["count"] == sum(1 for t in times if t >= middle)
    assert [r["_submission_time"] for r in page["results"]] == times[len(times) - page["count"] :][:50]
    following = parse_qs(urlsplit(page["next"]).query)
    assert following["start"] == ["50"] and following["limit"] == ["50"]
    assert json.loads(following["query"][0]) == json.loads(query)  # next links keep the filter
    newest = _get(data, format="json", limit=1, sort='{"_submission_time": -1}')["results"][0]
    assert newest["_submission_time"] == times[-1]
    for headers, detail in [
        ({}, "Authentication credentials were not provided."),
        ({"Authorization": "Token x"}, "Invalid token."),
    ]:
        refused = requests.get(data, headers=headers, timeout=10)
        assert (refused.status_code, refused.json()) == (401, {"detail": detail})


# -- end to end through the simulator ---------------------------------------------------------------
@pytest.fixture(scope="module")
def own_simulator() -> Iterator[Any]:
    """This module adds submissions, so it gets a simulator of its own."""
    from simulator.server import start_simulator

    with start_simulator(port=0) as handle:
        yield handle


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return con.execute(sql).fetchone()[0]


@pytest.mark.integration
def test_end_to_end_through_the_simulator(tmp_path: Path, own_simulator) -> None:
    from simulator import kobo_data, pretix_data

    config = _config(tmp_path, own_simulator.kobo_url, http={"page_size": 1000, "backoff_factor": 0.01})
    pretix = pretix_data.generate()
    expected = kobo_data.generate(pretix)  # the simulator derives the same data from the same seed
    surveys = expected.surveys
    submissions = [s for a in surveys for s in a.submissions]
    answers = sum(
        len(item) if isinstance(value, list) else 1
        for s in submissions
        for key, value in s.items()
        if is_answer_key(key)
        for item in (value if isinstance(value, list) else [None])
    )

    for stream in ("assets", "submissions"):
        assert extract_stream(config, SOURCE, stream).batch_id is not None
    load_pending(config)
    build(config)
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        counts = {
            model: _scalar(con, f"select count(*) from staging.stg_kobotoolbox__{model}")
            for model in ("assets", "form_versions", "submissions", "answers")
        }
        by_form = dict(
            con.execute(
                "select form_uid, count(*) from staging.stg_kobotoolbox__submissions group by 1"
            ).fetchall()
        )
        respondents = con.execute(
            "select activity_code, respondent_email_pseudonym from staging.stg_kobotoolbox__submissions "
            "where respondent_email_pseudonym is not null"
        ).fetchall()
        renamed = con.execute(
            "select distinct question_path from staging.stg_kobotoolbox__answers "
            "where question_path like 'evaluation/%satisfaction'"
        ).fetchall()
    assert counts == {
        "assets": len(surveys),
        "form_versions": sum(len(a.versions) for a in surveys if a.has_deployment),
        "submissions": len(submissions),
        "answers": answers,
    }
    assert by_form == {a.uid: len(a.submissions) for a in surveys if a.submissions}
    assert {p for (p,) in renamed} == {"evaluation/satisfaction", "evaluation/overall_satisfaction"}
    # the respondent's pseudonym is the key pretix gives the same attendee of the same activity
    attendees = {
        (order.event, PSEUDONYMS.pseudonym(position.person.email))
        for order in pretix.orders
        for position in order.positions
    }
    assert respondents and set(respondents) <= attendees

    # nothing new at the source: nothing lands
    for stream in ("assets", "submissions"):
        assert extract_stream(config, SOURCE, stream).batch_id is None

    # one new submission: exactly that one lands next time
    evaluation = surveys[0]
    posted = requests.post(
        f"{own_simulator.base_url}/_sim/kobo/assets/{evaluation.uid}/submissions",
        json={"activity/activity_code": "p1-2019-004", "respondent/email": "late.respondent@example.org"},
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    result = extract_stream(config, SOURCE, "submissions")
    assert result.records == 1
    [landed] = [r for r in _landed(config, "submissions") if r["_id"] == posted.json()["_id"]]
    assert landed["respondent/email_pseudonym"] == PSEUDONYMS.pseudonym("late.respondent@example.org")
    assert extract_stream(config, SOURCE, "assets").records == len(surveys)  # its submission count changed

    # no respondent email or name anywhere in landing or raw
    load_pending(config)
    identifiers = {path for path, _ in IDENTIFYING_QUESTIONS}
    names = {s["respondent/name"].lower() for s in submissions if "respondent/name" in s}
    for stream in ("assets", "submissions"):
        for record in _landed(config, stream):
            assert not identifiers & set(record)
            assert not EMAIL.search(json.dumps(record)), record
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        raw = con.execute(
            "select record from raw.kobotoolbox__submissions "
            "union all select record from raw.kobotoolbox__assets"
        ).fetchall()
    assert len(raw) == len(submissions) + 1 + 2 * len(surveys)
    for (record,) in raw:
        assert not EMAIL.search(record)
        assert not any(
            value.lower() in names for value in json.loads(record).values() if isinstance(value, str)
        )
