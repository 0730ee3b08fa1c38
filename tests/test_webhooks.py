"""Partner pushes: the receiver over real HTTP, its rejections, the Airflow asset-event hook, and a
signed push end to end (simulator -> receiver -> landing -> DuckDB -> dbt -> published marts)."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from engage.config import PipelineConfig, load_config
from engage.landing.batches import committed_manifests
from engage.orchestration.asset_events import AirflowAssetEvents, LandedBatch, refresh_in_process
from engage.pipeline import run_pipeline
from engage.privacy.pseudonymise import DEMO_KEY, Pseudonymiser
from engage.webhooks.receiver import serve_in_thread, sign
from tests.conftest import TOKEN_ENV, write_config
from tests.scripted_server import scripted_server
from tests.simulator_forms import simulator_surveys

PRETIX_SECRET = "pretix-push-secret-for-tests"
KOBO_SECRET = "kobo-push-secret-for-tests"
KOBO_TOKEN_ENV = "ENGAGE_TEST_KOBO_TOKEN"
SECRETS = {"ENGAGE_WEBHOOK_SECRET_PRETIX_TEST": PRETIX_SECRET, "ENGAGE_WEBHOOK_SECRET_KOBO_TEST": KOBO_SECRET}
PSEUDONYMS = Pseudonymiser(DEMO_KEY.encode())


@pytest.fixture(scope="module")
def own_simulator() -> Iterator[Any]:
    """This module adds orders and submissions, so it gets a simulator of its own."""
    from simulator.kobo_api import DEMO_KOBO_TOKEN
    from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

    saved = {name: os.environ.get(name) for name in [*SECRETS, TOKEN_ENV, KOBO_TOKEN_ENV]}
    os.environ.update({**SECRETS, TOKEN_ENV: DEMO_PRETIX_TOKEN, KOBO_TOKEN_ENV: DEMO_KOBO_TOKEN})
    with start_simulator(port=0) as handle:
        yield handle
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _config(folder: Path, simulator: Any, *, lean: bool = False) -> PipelineConfig:
    """Both systems from the simulator; `lean`: no pretix check-ins (the slowest stream to read)."""
    sources = {
        "pretix_test": {
            "kind": "pretix",
            "base_url": simulator.pretix_url,
            "organizer": "ecccn",
            "credentials": {"token_env": TOKEN_ENV},
            "http": {"page_size": 500, "backoff_factor": 0.01},
        },
        "kobo_test": {
            "kind": "kobotoolbox",
            "base_url": simulator.kobo_url,
            "credentials": {"token_env": KOBO_TOKEN_ENV},
            "http": {"page_size": 1000, "backoff_factor": 0.01},
        },
    }
    if lean:
        sources["pretix_test"]["streams"] = ["events", "orders"]
    surveys = simulator_surveys(kobo="kobo_test")  # the simulator's forms, as a deployment lists them
    return load_config(write_config(folder, simulator.pretix_url, sources=sources, surveys=surveys))


def _landing_files(config: PipelineConfig) -> set[tuple[str, int]]:
    root = config.landing_dir
    return {(str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def _post(
    url: str, body: bytes, headers: dict[str, str] | None = None, *, timeout: float = 60
) -> requests.Response:
    return requests.post(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}, timeout=timeout
    )


def _signed(secret: str, payload: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"X-Engage-Signature": sign(secret, body)}


def _an_order(simulator: Any) -> dict[str, Any]:
    response = requests.get(
        simulator.pretix_url + "organizers/ecccn/orders/",
        params={"page_size": 1},
        headers={"Authorization": f"Token {simulator.pretix_token}"},
        timeout=10,
    )
    return response.json()["results"][0]


def _notification(
    order: dict[str, Any], notification_id: int, action: str = "pretix.event.order.placed"
) -> dict:
    return {
        "notification_id": notification_id,
        "organizer": "ecccn",
        "event": order["event"],
        "code": order["code"],
        "action": action,
    }


def _deployed_form(simulator: Any) -> str:
    from simulator.kobo_api import DEMO_KOBO_TOKEN

    assets = requests.get(
        simulator.kobo_url + "api/v2/assets/",
        params={"format": "json"},
        headers={"Authorization": f"Token {DEMO_KOBO_TOKEN}"},
        timeout=10,
    ).json()["results"]
    return next(a["uid"] for a in assets if a.get("has_deployment") and a.get("asset_type") == "survey")


# -- the receiver's answers ----------------------------------------------------------------------------
def test_signed_token_and_url_token_pushes_land_and_bad_ones_are_rejected(
    tmp_path: Path, own_simulator
) -> None:
    config = _config(tmp_path, own_simulator)
    order = _an_order(own_simulator)
    landed: list[LandedBatch] = []
    with serve_in_thread(config, lambda cfg, batches: landed.extend(batches)) as base:
        pretix_url = f"{base}/webhooks/pretix/pretix_test"
        kobo_url = f"{base}/webhooks/kobotoolbox/kobo_test"
        good_body, good_headers = _signed(PRETIX_SECRET, _notification(order, 1))
        empty = _landing_files(config)

        rejected = {
            "unsigned": _post(pretix_url, good_body),
            "bad signature": _post(pretix_url, good_body, {"X-Engage-Signature": "sha256=" + "0" * 64}),
            "signed with another source's secret": _post(
                pretix_url, *_signed(KOBO_SECRET, _notification(order, 1))
            ),
            "wrong token": _post(pretix_url, good_body, {"X-Engage-Token": "guess"}),
            "wrong url token": _post(pretix_url + "?token=guess", good_body),
            "oversized": _post(pretix_url, *_signed(PRETIX_SECRET, {"pad": "x" * (64 * 1024)})),
            "not json": _post(
                pretix_url, b"{not json", {"X-Engage-Signature": sign(PRETIX_SECRET, b"{not json")}
            ),
            "missing fields": _post(pretix_url, *_signed(PRETIX_SECRET, {"notification_id": 2, "code": "X"})),
            "kobo missing _uuid": _post(kobo_url, *_signed(KOBO_SECRET, {"_id": 1, "_xform_id_string": "a"})),
            "unknown source": _post(f"{base}/webhooks/pretix/nobody", good_body, good_headers),
            "wrong kind": _post(f"{base}/webhooks/kobotoolbox/pretix_test", good_body, good_headers),
        }
        statuses = {name: response.status_code for name, response in rejected.items()}
        assert statuses == {
            "unsigned": 401,
            "bad signature": 401,
            "signed with another source's secret": 401,
            "wrong token": 401,
            "wrong url token": 401,
            "oversized": 413,
            "not json": 400,
            "missing fields": 400,
            "kobo missing _uuid": 400,
            "unknown source": 401,  # the same answer as a bad secret: names cannot be probed
            "wrong kind": 401,
        }
        assert _landing_files(config) == empty == set()  # nothing landed, not even the replay file
        assert landed == []

        accepted = _post(pretix_url, good_body, good_headers)
        assert accepted.status_code == 202, accepted.text
        after_first = _landing_files(config)
        replayed = _post(pretix_url, good_body, good_headers)
        assert replayed.status_code == 409
        assert _landing_files(config) == after_first  # the replay left the landing zone as it was

        # pretix's way: the secret in the webhook URL; a new notification of the same order lands again
        by_url = _post(pretix_url + f"?token={PRETIX_SECRET}", json.dumps(_notification(order, 3)).encode())
        assert by_url.status_code == 202, by_url.text
        # KoboToolbox's way: the secret in a custom header
        submission = {
            "_id": 99,
            "_uuid": "u-1",
            "_xform_id_string": "aForm",
            "_submission_time": "2026-01-02T03:04:05",
        }
        by_header = _post(kobo_url, json.dumps(submission).encode(), {"X-Engage-Token": KOBO_SECRET})
        assert by_header.status_code == 202, by_header.text
        assert (
            _post(kobo_url, json.dumps(submission).encode(), {"X-Engage-Token": KOBO_SECRET}).status_code
            == 409
        )

    assert [(b.stream, b.records) for b in landed] == [("orders", 1), ("orders", 1), ("submissions", 1)]
    manifests = [m for _, m in committed_manifests(config.landing_dir)]
    assert {(m.source_instance, m.stream, m.row_count) for m in manifests} == {
        ("pretix_test", "orders", 1),
        ("kobo_test", "submissions", 1),
    }
    assert all(m.cursor_marks == {} for m in manifests)  # a push never moves the pull's cursor
    assert "webhook" in manifests[0].extractor_version
    # the order was pseudonymised with the orders stream's rules before landing
    [part] = (config.landing_dir / "pretix_test" / "orders").glob(
        f"batch={landed[0].batch_id}/part-*.ndjson.gz"
    )
    with gzip.open(part, "rt", encoding="utf-8") as handle:
        record = json.loads(handle.read())
    assert "email" not in record and record["email_pseudonym"] == PSEUDONYMS.pseudonym(order["email"])


# -- the Airflow REST hook --------------------------------------------------------------------------
def test_the_airflow_hook_looks_up_the_asset_by_uri_and_posts_an_asset_event(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/"))
    posted: list[tuple[str, Any]] = []

    def answer(path: str, n: int, body: bytes | None = None):
        if body is not None:
            posted.append((path, json.loads(body)))
        if path.startswith("/auth/token"):
            return 201, {}, {"access_token": "jwt-1", "token_type": "bearer"}
        if path.startswith("/api/v2/assets?"):
            return (
                200,
                {},
                {
                    "assets": [
                        {"id": 7, "uri": "engage://landing/pretix_test/orders_archive"},  # a substring match
                        {"id": 5, "uri": "engage://landing/pretix_test/orders"},
                    ],
                    "total_entries": 2,
                },
            )
        if path == "/api/v2/assets/events":
            return 200, {}, {"id": 1, "asset_id": 5}
        return 404, {}, {"detail": "not found"}

    batch = LandedBatch(
        "pretix_test", "orders", "20260101T000000000000Z-abcdef", 1, "webhook:pretix.event.order.paid"
    )
    with scripted_server(answer) as (base, seen):
        hook = AirflowAssetEvents(base, username="admin", password="pw")
        hook(config, [batch])
        hook(config, [batch])  # the asset id is cached: one lookup
    assert seen[0] == "/auth/token"
    assert (
        seen[1].startswith("/api/v2/assets?")
        and "uri_pattern=engage%3A%2F%2Flanding%2Fpretix_test%2Forders" in seen[1]
    )
    assert seen[2:] == ["/api/v2/assets/events", "/api/v2/assets/events"]
    assert posted[0] == ("/auth/token", {"username": "admin", "password": "pw"})
    assert posted[1] == (
        "/api/v2/assets/events",
        {
            "asset_id": 5,
            "extra": {
                "batch_id": batch.batch_id,
                "records": 1,
                "source_instance": "pretix_test",
                "stream": "orders",
                "via": "webhook:pretix.event.order.paid",
            },
        },
    )


# -- end to end: a signed push reaches the published marts without a schedule ---------------------------
@pytest.mark.integration
def test_a_signed_push_reaches_the_published_marts(
    tmp_path_factory: pytest.TempPathFactory, own_simulator
) -> None:
    config = _config(tmp_path_factory.mktemp("webhooks-e2e"), own_simulator, lean=True)
    run_pipeline(config)

    def kpis() -> dict[str, Any]:
        with duckdb.connect(str(config.marts_path), read_only=True) as con:
            cursor = con.execute("select * from mart_programme_kpis_by_phase where phase = 'all'")
            return dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))

    before = kpis()
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        [event] = con.execute("select min(event_slug) from dim_activity where phase = '1'").fetchone()

    # new data at the partners, which no pull has read
    control = own_simulator.base_url + "/_sim"
    email = "pushed.person@example.org"
    order = requests.post(
        control + "/pretix/orders",
        json={"event": event, "email": email, "name": "Pushed Person", "country": "Kenya"},
        timeout=10,
    ).json()
    form = _deployed_form(own_simulator)
    submission = requests.post(
        control + f"/kobo/assets/{form}/submissions",
        json={"activity/activity_code": "p1-2019-004", "respondent/email": "pushed.respondent@example.org"},
        timeout=10,
    ).json()

    # KoboToolbox pushes first (landed only), then pretix (with the in-process refresh)
    with serve_in_thread(config, None) as base:
        response = _post(f"{base}/webhooks/kobotoolbox/kobo_test", *_signed(KOBO_SECRET, submission))
        assert response.status_code == 202, response.text
    with serve_in_thread(config, refresh_in_process) as base:
        response = _post(  # answered after the in-process refresh: a dbt build on a busy machine
            f"{base}/webhooks/pretix/pretix_test",
            *_signed(PRETIX_SECRET, _notification(order, 1001)),
            timeout=600,
        )
        assert response.status_code == 202, response.text
        assert response.json()["refresh"] == "requested"

    person = PSEUDONYMS.pseudonym(email)
    with duckdb.connect(str(config.marts_path), read_only=True) as con:
        rows = con.execute(
            "select p.person_key, p.is_registered, p.is_attended from fct_participation p "
            "join dim_activity a using (activity_id) where a.event_slug = ? and p.person_key = ?",
            [event, person],
        ).fetchall()
    assert rows == [(person, True, False)]  # registered through the push, not checked in
    after = kpis()
    assert after["activities"] == before["activities"]
    assert after["attendances"] == before["attendances"]  # KPIs count attendance: unchanged

    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        raw = con.execute(
            "select count(*) from raw.kobotoolbox__submissions where record ->> '_uuid' = ?",
            [submission["_uuid"]],
        ).fetchone()[0]
        staged = con.execute(
            "select respondent_email_pseudonym from staging.stg_kobotoolbox__submissions "
            "where submission_uuid = ?",
            [submission["_uuid"]],
        ).fetchall()
    assert raw == 1
    assert staged == [(PSEUDONYMS.pseudonym("pushed.respondent@example.org"),)]


def test_a_push_for_an_erased_person_lands_nothing(tmp_path: Path) -> None:
    from engage.privacy.suppression import suppression_path
    from engage.webhooks.handlers import land_record
    from extractors import kobotoolbox

    kobo = {"kind": "kobotoolbox", "base_url": "http://127.0.0.1:1/", "credentials": {"token_env": "T"}}
    config = load_config(write_config(tmp_path, "http://127.0.0.1:1/", sources={"kobo_test": kobo}))
    key = Pseudonymiser.from_environment(config.privacy.key_env, allow_demo_key=True)
    suppression_path(config).parent.mkdir(parents=True, exist_ok=True)
    # The older format (the pseudonym itself) still counts: the list is read as digests.
    suppression_path(config).write_text(key.pseudonym("gone@example.org") + "\n", encoding="utf-8")
    record = {
        "_id": 1, "_uuid": "u-1", "_xform_id_string": "aForm", "_submission_time": "2026-01-01T10:00:00",
        "respondent/email": "Gone@Example.org",
    }  # fmt: skip
    erased = land_record(config, "kobo_test", kobotoolbox, "submissions", dict(record))
    assert erased.records == 0
    assert list(committed_manifests(config.landing_dir)) == []
    kept = land_record(config, "kobo_test", kobotoolbox, "submissions", {**record, "_id": 2, "_uuid": "u-2",
                       "respondent/email": "stays@example.org"})  # fmt: skip
    assert kept.records == 1 and len(list(committed_manifests(config.landing_dir))) == 1
