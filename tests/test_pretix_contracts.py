"""pretix (REST API v1): the real extractor on the shapes recorded from pretix 2026.8.0."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engage.config import PipelineConfig, load_config
from engage.extract import extract_stream
from extractors.http import SourceError
from tests.conftest import TOKEN_ENV, write_config
from tests.scripted_server import scripted_server

CONTRACTS = Path(__file__).parent / "contracts" / "pretix"


def _fixture(name: str) -> Any:
    return json.loads((CONTRACTS / name).read_text(encoding="utf-8"))


def _config(folder: Path, url: str) -> PipelineConfig:
    source = {
        "kind": "pretix",
        "base_url": url,
        "organizer": "org",
        "credentials": {"token_env": TOKEN_ENV},
        "http": {"backoff_factor": 0.01, "max_retries": 1},  # no page_size: the default applies
    }
    return load_config(write_config(folder, url, sources={"pretix_contract": source}))


def _landed(config: PipelineConfig, stream: str) -> list[dict[str, Any]]:
    records = []
    for part in sorted(config.landing_dir.rglob(f"{stream}/batch=*/part-*.ndjson.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle]
    return records


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "contract-token")


def _answer(path: str, n: int) -> tuple[int, dict[str, str], Any]:
    route = urlsplit(path).path
    if route.endswith("/events/"):
        return 200, {}, _fixture("events_page.json")
    if route.endswith("/orders/"):
        return 200, {}, _fixture("orders_page.json")
    return 403, {}, _fixture("error_unknown_event_403.json")


def test_orders_land_with_every_lists_checkins_at_the_servers_page_size(tmp_path) -> None:
    with scripted_server(_answer) as (url, seen):
        config = _config(tmp_path, url)
        events = extract_stream(config, "pretix_contract", "events")
        first = extract_stream(config, "pretix_contract", "orders")
        second = extract_stream(config, "pretix_contract", "orders")
    queries = [parse_qs(urlsplit(p).query) for p in seen]
    assert all(q["page_size"] == ["50"] for q in queries)  # pretix's max_page_size, not 200
    assert events.records == 2 and first.records == 1
    [order] = _landed(config, "orders")
    [position] = order["positions"]
    assert [(c["list"], c["type"]) for c in position["checkins"]] == [(3, "entry"), (4, "exit")]
    assert "email" not in order and "attendee_email" not in position and order["email_pseudonym"]
    # the cursor is the Z timestamp with microseconds, sent back as it came
    assert first.cursor_end == "2027-01-01T03:58:40.120977Z"
    assert queries[-1]["modified_since"] == ["2027-01-01T03:58:40.120977Z"]
    assert second.batch_id is None  # the inclusive boundary order is not landed twice
    [akl, hnl] = _landed(config, "events")
    assert (akl["timezone"], hnl["timezone"]) == ("Pacific/Auckland", "Pacific/Honolulu")


def test_a_403_for_an_event_fails_the_checkins_stream_and_lands_nothing(tmp_path) -> None:
    with scripted_server(_answer) as (url, _):
        config = _config(tmp_path, url)
        with pytest.raises(SourceError) as raised:
            extract_stream(config, "pretix_contract", "checkins")
    assert "403" in str(raised.value) and "contract-token" not in str(raised.value)
    assert _landed(config, "checkins") == []
