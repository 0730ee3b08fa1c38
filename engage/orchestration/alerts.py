"""Failure alerts: one clear line per failed task (source, stream, error, run link).

The notifier is pluggable: the log by default, a webhook URL or SMTP when the configuration
names them. Sending an alert never raises: a broken notifier must not hide the original failure.
"""

from __future__ import annotations

import logging
import os
import smtplib
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any, Protocol

from engage.config import AlertSettings
from extractors.http import redact

log = logging.getLogger("engage.alerts")


@dataclass(frozen=True)
class Alert:
    dag_id: str
    task_id: str
    source: str
    stream: str
    error: str
    run_url: str

    def line(self) -> str:
        return (
            f"engage alert: {self.dag_id}.{self.task_id} failed "
            f"(source={self.source}, stream={self.stream}): {self.error} | {self.run_url}"
        )


class Notifier(Protocol):
    def send(self, alert: Alert) -> None: ...


class LogNotifier:
    def send(self, alert: Alert) -> None:
        log.error(alert.line())


@dataclass(frozen=True)
class WebhookNotifier:
    """POSTs {"text": <the line>, ...fields} (the shape Slack/Teams/Mattermost hooks accept)."""

    url: str
    timeout: float = 10.0

    def send(self, alert: Alert) -> None:
        import requests

        requests.post(
            self.url, json={"text": alert.line(), **asdict(alert)}, timeout=self.timeout
        ).raise_for_status()


@dataclass(frozen=True)
class SmtpNotifier:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = f"engage: {alert.dag_id}.{alert.task_id} failed"
        message["From"], message["To"] = self.sender, ", ".join(self.recipients)
        message.set_content(alert.line())
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


def notifiers_for(settings: AlertSettings) -> list[Notifier]:
    """The log always; a webhook and SMTP besides when configured."""
    chosen: list[Notifier] = [LogNotifier()]
    if settings.webhook_url_env and (url := os.environ.get(settings.webhook_url_env)):
        chosen.append(WebhookNotifier(url))
    if settings.smtp_host and settings.smtp_to:
        chosen.append(
            SmtpNotifier(settings.smtp_host, settings.smtp_port, settings.smtp_from, tuple(settings.smtp_to))
        )
    return chosen


def alert_from_context(context: Any, *, source: str, stream: str) -> Alert:
    ti = context["ti"]
    error = context.get("exception")
    text = f"{type(error).__name__}: {error}" if error is not None else "failed (no exception recorded)"
    try:
        run_url = ti.log_url
    except Exception:  # the link is a convenience; the alert must go out without it
        run_url = f"dag {ti.dag_id}, run {ti.run_id}"
    return Alert(ti.dag_id, ti.task_id, source, stream, redact(text)[:500], run_url)


def send_alert(alert: Alert, notifiers: list[Notifier]) -> None:
    for notifier in notifiers:
        try:
            notifier.send(alert)
        except Exception as exc:  # keep going: the other notifiers may still reach someone
            log.warning("alert via %s failed: %s", type(notifier).__name__, redact(str(exc)))
