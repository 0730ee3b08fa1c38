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
    return load_config(write_config(folder, simulator.pretix_url, sources=sources))


def _landing_files(config: PipelineConfig) -> set[tuple[str, int]]:
    root = config.landing_dir
    return {(str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}, timeout=60
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
        response = _post(
            f"{base}/webhooks/pretix/pretix_test", *_signed(PRETIX_SECRET, _notification(order, 1001))
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


# -- the receiver under abuse ------------------------------------------------------------------------


def _abuse_config(tmp_path: Path, pretix_url: str, monkeypatch: pytest.MonkeyPatch, **webhooks: Any):
    monkeypatch.setenv("ENGAGE_WEBHOOK_SECRET_PRETIX_TEST", PRETIX_SECRET)
    monkeypatch.setenv(TOKEN_ENV, "a-pretix-token-for-tests")
    settings = {"request_deadline_seconds": 1.5, **webhooks}
    return load_config(write_config(tmp_path, pretix_url, webhooks=settings))


def _raw(base: str, data: bytes, *, pause: float = 0.0, chunks: int = 1, timeout: float = 10) -> tuple:
    """Send bytes over a plain socket (optionally in `chunks` pieces, `pause` s apart); return
    (status or None, body text, seconds until the server answered or closed)."""
    import socket
    import time

    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        size = max(1, len(data) // chunks)
        try:
            for offset in range(0, len(data), size):
                connection.sendall(data[offset : offset + size])
                if pause:
                    time.sleep(pause)
        except OSError:
            pass  # the server gave up on us: what we measure
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except OSError:
            pass
    elapsed = time.monotonic() - started
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/") else None
    return status, body.decode(errors="replace"), elapsed


def _request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_abusive_requests_get_a_clean_answer_without_traceback_or_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], caplog
) -> None:
    config = _abuse_config(tmp_path, "http://127.0.0.1:1/", monkeypatch)
    path = "/webhooks/pretix/pretix_test"

    def signed(body: bytes, **extra: str) -> dict[str, str]:
        return {"Content-Length": str(len(body)), "X-Engage-Signature": sign(PRETIX_SECRET, body), **extra}

    deep_list = b"[" * 20_000 + b"]" * 20_000  # 40 kB, under the body limit
    nested = b'{"a":' * 40 + b"1" + b"}" * 40
    note = {
        "notification_id": 1,
        "organizer": "ecccn",
        "event": "e1",
        "code": "../../../events",
        "action": "x",
    }
    dotted = json.dumps(note).encode()
    slashed = json.dumps({**note, "code": "A1B2C", "event": "e1/../../x"}).encode()
    with serve_in_thread(config, on_landed=None) as base:
        answers = {
            "deep json": _raw(base, _request(path, deep_list, signed(deep_list))),
            "nested json": _raw(base, _request(path, nested, signed(nested))),
            "two lengths": _raw(base, _request(path, b"{}", {**signed(b"{}"), "content-length": "2"})),
            "chunked": _raw(base, _request(path, b"{}", signed(b"{}", **{"Transfer-Encoding": "chunked"}))),
            "longer body": _raw(base, _request(path, b"{}", signed(b"{}")) + b'{"smuggled": 1}'),
            "bad length": _raw(base, _request(path, b"{}", {**signed(b"{}"), "Content-Length": "+2"})),
            "dotted code": _raw(base, _request(path, dotted, signed(dotted))),
            "slashed event": _raw(base, _request(path, slashed, signed(slashed))),
        }
        assert {name: status for name, (status, _, _) in answers.items()} == dict.fromkeys(answers, 400)
        assert all(elapsed < 5 for _, _, elapsed in answers.values())

        # A body shorter than its Content-Length, the sender waiting: 408 at the deadline, not a hang.
        status, _, elapsed = _raw(base, _request(path, b"{", {**signed(b"{}"), "Content-Length": "2"}))
        assert status == 408 and 1.2 < elapsed < 5
        # Headers trickled a byte at a time, each read well within any per-read timeout: the whole
        # request has 1.5 s, so the server stops reading long before the 8 s the sender would take.
        status, _, elapsed = _raw(base, _request(path, b"{}", signed(b"{}")), pause=0.1, chunks=80)
        assert elapsed < 5
        # An unknown source and a wrong secret get the very same answer.
        unknown = _raw(base, _request("/webhooks/pretix/nobody", b"{}", signed(b"{}")))
        wrong = _raw(base, _request(path, b"{}", {"Content-Length": "2", "X-Engage-Token": "wrong"}))
        no_secret_source = _raw(base, _request("/webhooks/kobotoolbox/pretix_test", b"{}", signed(b"{}")))
        assert unknown[:2] == wrong[:2] == no_secret_source[:2] and unknown[0] == 401
        assert "nobody" not in unknown[1]
        assert requests.get(base + "/health", timeout=5).status_code == 200  # still serving
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert not any(record.exc_info for record in caplog.records)
    assert list(committed_manifests(config.landing_dir)) == []


def test_a_full_worker_pool_answers_503_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import time

    config = _abuse_config(tmp_path, "http://127.0.0.1:1/", monkeypatch, max_workers=1)
    config = config.model_copy(
        update={"webhooks": config.webhooks.model_copy(update={"request_deadline_seconds": 4.0})}
    )
    with serve_in_thread(config, on_landed=None) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as holder:
            holder.sendall(b"POST /webhooks/pretix/pretix_test HTTP/1.1\r\n")  # and then nothing
            time.sleep(0.3)
            started = time.monotonic()
            status, body, _ = _raw(
                base, _request("/webhooks/pretix/pretix_test", b"{}", {"Content-Length": "2"})
            )
            assert status == 503 and "busy" in body
            assert time.monotonic() - started < 1.5
        time.sleep(0.3)  # the holder hung up: its worker is free again
        assert requests.get(base + "/health", timeout=5).status_code == 200


def test_slow_partner_calls_run_side_by_side_and_land_only_declared_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from tests.test_privacy import ORDER_FIELDS, PLANTED, _paths, real_shaped_order

    def answer(path: str, n: int) -> tuple[int, dict[str, str], object]:
        time.sleep(1.5)  # a slow pretix: each order read takes 1.5 s
        code = path.rstrip("/").rsplit("/", 1)[-1]
        return 200, {}, {**real_shaped_order(), "code": code}

    with scripted_server(answer) as (pretix_base, _seen):
        config = _abuse_config(tmp_path, pretix_base, monkeypatch, request_deadline_seconds=10)
        with serve_in_thread(config, on_landed=None) as base:
            url = base + "/webhooks/pretix/pretix_test"
            notes = [
                {"notification_id": i, "organizer": "ecccn", "event": "e1", "code": f"C{i}", "action": "p"}
                for i in (1, 2, 3, 3)  # the last one a duplicate delivery while the first is in flight
            ]
            results: dict[int, int] = {}

            def push(index: int) -> None:
                body, headers = _signed(PRETIX_SECRET, notes[index])
                results[index] = _post(url, body, headers).status_code

            started = time.monotonic()
            threads = [threading.Thread(target=push, args=(i,)) for i in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            elapsed = time.monotonic() - started
    assert sorted(results.values()) == [202, 202, 202, 409]
    assert elapsed < 3.5, f"three 1.5 s pushes took {elapsed:.1f} s: they ran one after another"
    landed = []
    for directory, manifest in committed_manifests(config.landing_dir):
        for part in manifest.parts:
            with gzip.open(directory / part.name, "rt", encoding="utf-8") as handle:
                landed.extend(json.loads(line) for line in handle)
    assert sorted(r["code"] for r in landed) == ["C1", "C2", "C3"]
    assert all(_paths(r) == ORDER_FIELDS for r in landed)
    text = json.dumps(landed)
    assert not [value for value in PLANTED if value in text]
