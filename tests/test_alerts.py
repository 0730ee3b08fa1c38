"""Failure alerts: one clear line, through the log, a webhook or SMTP; a failing DAG task sends it."""

from __future__ import annotations

import email
import json
import logging
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from engage.orchestration.alerts import (
    Alert,
    LogNotifier,
    SmtpNotifier,
    WebhookNotifier,
    alert_from_context,
    send_alert,
)
from tests.conftest import write_config
from tests.scripted_server import scripted_server


def _context(error: Exception) -> dict:
    ti = SimpleNamespace(
        dag_id="engage_extract_pretix_test",
        task_id="extract_orders",
        run_id="manual__1",
        log_url="http://airflow.example/dags/engage_extract_pretix_test/runs/manual__1",
    )
    return {"ti": ti, "exception": error}


def test_the_alert_line_names_source_stream_error_and_run_without_secrets() -> None:
    error = RuntimeError("pretix_test: HTTP 500 for http://x/orders/?token=s3cr3t-value: boom")
    alert = alert_from_context(_context(error), source="pretix_test", stream="orders")
    line = alert.line()
    assert line.startswith("engage alert: engage_extract_pretix_test.extract_orders failed")
    assert "source=pretix_test, stream=orders" in line and "RuntimeError: pretix_test: HTTP 500" in line
    assert "http://airflow.example/dags/engage_extract_pretix_test/runs/manual__1" in line
    assert "s3cr3t-value" not in line


def test_the_webhook_receives_the_line_and_fields() -> None:
    bodies: list[dict] = []

    def answer(path: str, n: int, body: bytes = b""):
        bodies.append(json.loads(body))
        return 200, {}, {"ok": True}

    alert = Alert("d", "t", "pretix_test", "orders", "boom", "http://run")
    with scripted_server(answer) as (url, _):
        WebhookNotifier(url + "hook").send(alert)
    assert bodies == [{"text": alert.line(), "dag_id": "d", "task_id": "t", "source": "pretix_test",
                       "stream": "orders", "error": "boom", "run_url": "http://run"}]  # fmt: skip


def test_smtp_delivers_the_line() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import asyncore
        import smtpd

    received: list[str] = []

    class Collector(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
            received.append(data.decode() if isinstance(data, bytes) else data)

    server = Collector(("127.0.0.1", 0), None)
    port = server.socket.getsockname()[1]
    loop = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1, "count": 50}, daemon=True)
    loop.start()
    try:
        SmtpNotifier("127.0.0.1", port, "engage@localhost", ("team@example.org",)).send(
            Alert("d", "t", "pretix_test", "orders", "boom", "http://run")
        )
        loop.join(timeout=10)
    finally:
        server.close()
    [message] = [email.message_from_string(text) for text in received]
    assert message["Subject"] == "engage: d.t failed" and message["To"] == "team@example.org"
    assert (
        "(source=pretix_test, stream=orders): boom | http://run" in message.get_payload(decode=True).decode()
    )


def test_a_broken_notifier_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    alert = Alert("d", "t", "s", "orders", "boom", "http://run")
    with caplog.at_level(logging.WARNING, logger="engage.alerts"):
        send_alert(alert, [WebhookNotifier("http://127.0.0.1:9/hook", timeout=1), LogNotifier()])
    messages = [r.getMessage() for r in caplog.records]
    assert any("alert via WebhookNotifier failed" in m for m in messages)
    assert alert.line() in messages


@pytest.mark.airflow
def test_a_failing_extract_task_sends_its_alert(
    tmp_path: Path, simulator, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.utils.state import DagRunState

    from engage.config import load_config
    from engage.orchestration.dag_factory import build_extract_dag
    from tests.test_dags import _without_retries

    bodies: list[dict] = []

    def answer(path: str, n: int, body: bytes = b""):
        bodies.append(json.loads(body))
        return 200, {}, {}

    path = write_config(tmp_path, simulator.pretix_url, alerts={"webhook_url_env": "ENGAGE_TEST_ALERT_HOOK"})
    data = yaml.safe_load(path.read_text())
    data["sources"]["pretix_test"]["credentials"]["token_env"] = "ENGAGE_TEST_UNSET_TOKEN"
    data["sources"]["pretix_test"]["streams"] = ["orders"]
    path.write_text(yaml.safe_dump(data))
    monkeypatch.delenv("ENGAGE_TEST_UNSET_TOKEN", raising=False)
    monkeypatch.setenv("ENGAGE_CONFIG", str(path))  # dag.test() serialises the DAGs the folder yields
    with scripted_server(answer) as (url, _):
        monkeypatch.setenv("ENGAGE_TEST_ALERT_HOOK", url + "hook")
        run = _without_retries(build_extract_dag(load_config(path), "pretix_test")).test()
    assert run.state == DagRunState.FAILED
    [body] = bodies
    assert body["source"] == "pretix_test" and body["stream"] == "orders"
    assert "no API token: set the environment variable ENGAGE_TEST_UNSET_TOKEN" in body["error"]
    assert body["text"].startswith("engage alert: engage_extract_pretix_test.extract_orders failed")
