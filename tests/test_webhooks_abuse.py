"""The webhook receiver under abuse, over real sockets: malformed framing, deep JSON, path-like
order codes, trickling senders, a full worker pool, one answer for unknown sources and bad secrets,
and slow partner calls that must not queue behind a lock."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from engage.config import load_config
from engage.landing.batches import committed_manifests
from engage.webhooks.receiver import serve_in_thread, sign
from tests.conftest import TOKEN_ENV, write_config
from tests.scripted_server import scripted_server
from tests.test_webhooks import PRETIX_SECRET, _post, _signed

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
