"""A scan for personal data and secrets where none should be: the landing zone, the working
warehouse, the published copy (DuckDB and Parquet), the report and the logs.

It looks for email addresses (any), people's names (the caller passes the list, e.g. a partner's
attendee list or the simulator's dataset) and secrets (the pseudonymisation key and the partner
credentials read from the environment variables the configuration names, plus any given).
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engage.config import PipelineConfig
from engage.privacy.pseudonymise import DEMO_KEY
from extractors.source_config import LoginCredentials, TokenCredentials

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
MIN_SECRET_LENGTH = 8  # shorter values (a user name such as "demo") would match ordinary words


@dataclass(frozen=True)
class Finding:
    place: str  # file, or database:schema.table
    kind: str  # "email", "name" or "secret"
    excerpt: str  # the email itself, the name, or the secret's first 4 characters only


def configured_secrets(config: PipelineConfig) -> set[str]:
    """The pseudonymisation key and the source credentials, as the environment holds them."""
    found = {os.environ.get(config.privacy.key_env, "")}
    if config.privacy.allow_demo_key:
        found.add(DEMO_KEY)
    for source in config.sources.values():
        credentials = getattr(source, "credentials", None)
        if isinstance(credentials, TokenCredentials):
            found.add(os.environ.get(credentials.token_env, ""))
        elif isinstance(credentials, LoginCredentials):
            found.add(os.environ.get(credentials.password_env, ""))
    for env in (config.webhooks.secret_env(name) for name in config.sources):
        found.add(os.environ.get(env, ""))
    return {s for s in found if len(s) >= MIN_SECRET_LENGTH}


_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class _Matcher:
    """Emails and secrets anywhere; a listed name wherever its words follow one another, whatever
    the case, spacing or punctuation around them ("Dear ana  SILVA," holds "Ana Silva")."""

    def __init__(self, names: Iterable[str], secrets: Iterable[str]) -> None:
        self.names = {" ".join(w) for n in names if n and (w := _words(n))}
        self.lengths = sorted({name.count(" ") + 1 for name in self.names})
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH})

    def _names_in(self, text: str) -> Iterator[str]:
        words = _words(text) if self.names else []
        for size in self.lengths:
            for start in range(len(words) - size + 1):
                candidate = " ".join(words[start : start + size])
                if candidate in self.names:
                    yield candidate

    def check_value(self, value: str) -> Iterator[tuple[str, str]]:
        """A stored value or a line of text."""
        if match := EMAIL.search(value):
            yield "email", match.group(0)
        for name in self._names_in(value):
            yield "name", name
        for secret in self.secrets:
            if secret in value:
                yield "secret", secret[:4] + "…"

    check_text = check_value


def string_leaves(value: object) -> Iterator[str]:
    """Every string inside a value, looking into JSON text (records, raw JSON columns) too."""
    if isinstance(value, dict):
        for item in value.values():
            yield from string_leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from string_leaves(item)
    elif isinstance(value, str):
        if value[:1] in "{[":
            try:
                yield from string_leaves(json.loads(value))
                return
            except ValueError:
                pass
        yield value


def _scan_database(path: Path, matcher: _Matcher, findings: list[Finding], *, parquet: bool = False) -> None:
    with duckdb.connect() as con:
        if parquet:
            sources = [(str(path), f"read_parquet('{path.as_posix()}')")]
        else:
            con.execute(f"attach '{path.as_posix()}' as scanned (read_only)")
            rows = con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'scanned'"
            ).fetchall()
            sources = [(f"{path}:{s}.{t}", f'scanned."{s}"."{t}"') for s, t in rows]
        for place, relation in sources:
            cursor = con.execute(f"select * from {relation}")
            while batch := cursor.fetchmany(10_000):
                for row in batch:
                    for leaf in string_leaves([v for v in row if isinstance(v, str)]):
                        for kind, excerpt in matcher.check_value(leaf):
                            findings.append(Finding(place, kind, excerpt))


def _scan_landing(landing: Path, matcher: _Matcher, findings: list[Finding]) -> None:
    for part in sorted(landing.rglob("*.ndjson.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as handle:
            for line in handle:
                try:
                    leaves = list(string_leaves(json.loads(line)))
                except ValueError:
                    leaves = [line]
                for leaf in leaves:
                    for kind, excerpt in matcher.check_value(leaf):
                        findings.append(Finding(str(part), kind, excerpt))
    for manifest in sorted(landing.rglob("_MANIFEST.json")):
        for kind, excerpt in matcher.check_text(manifest.read_text(encoding="utf-8")):
            findings.append(Finding(str(manifest), kind, excerpt))


def _scan_text_files(files: Iterable[Path], matcher: _Matcher, findings: list[Finding]) -> None:
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                for kind, excerpt in matcher.check_text(line):
                    findings.append(Finding(str(path), kind, excerpt))


def airflow_log_folder() -> Path:
    """Where Airflow writes task logs: the configured base log folder, else $AIRFLOW_HOME/logs."""
    configured = os.environ.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER")
    if configured:
        return Path(configured)
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "logs"


def log_folders(config: PipelineConfig) -> list[Path]:
    """Where logs are written: dbt's (beside the warehouse and in the project), data/logs, Airflow's."""
    data = config.warehouse_path.parent
    candidates = (data / "dbt" / "logs", data / "logs", config.dbt_dir / "logs", airflow_log_folder())
    return [p for p in dict.fromkeys(candidates) if p.is_dir()]


def scan(
    config: PipelineConfig,
    *,
    names: Iterable[str] = (),
    secrets: Iterable[str] = (),
    extra_folders: Iterable[Path] = (),
) -> list[Finding]:
    """Every email, listed name or secret found in the pipeline's data and logs (empty: clean)."""
    matcher = _Matcher(names, {*configured_secrets(config), *secrets})
    findings: list[Finding] = []
    if config.landing_dir.is_dir():
        _scan_landing(config.landing_dir, matcher, findings)
    for database in (config.warehouse_path, config.marts_path):
        if database.is_file():
            _scan_database(database, matcher, findings)
    published = config.published_dir
    if published.is_dir():
        for parquet in sorted(published.glob("parquet-*/*.parquet")):
            _scan_database(parquet, matcher, findings, parquet=True)
        report = [*published.glob("*.md"), *published.glob("report*.html"), *published.glob("report*.json")]
        _scan_text_files(sorted(report), matcher, findings)
    text_files = [
        p
        for folder in [*log_folders(config), *extra_folders]
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in {".log", ".txt", ".json", ".md", ""}
    ]
    _scan_text_files(text_files, matcher, findings)
    return findings
