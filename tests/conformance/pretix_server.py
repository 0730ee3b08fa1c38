"""A real pretix on loopback for the conformance run: its own venv, a cached migrated SQLite, runserver.

    python -m tests.conformance.pretix_server prepare   # install + migrate (cached): make conformance

Everything lives under `.conformance/` (git-ignored): `venv/` (pretix from PyPI, installed by uv),
`cache/pretix-<version>.sqlite3` (the migrated, empty database: a warm run copies it instead of
migrating), and `run/` (this run's database, pretix data folder, logs, landing zone, warehouse).
No Celery broker (pretix runs its tasks in-process), no Redis, no PostgreSQL.

Every wait has a bound and ends in an error that says which step and where its log is. The server
is stopped by its pid (its own process group) in `PretixServer.stop()`, which the caller runs in a
`finally`, and which is also registered with atexit and on SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.stop_on_exit import stop_on_exit

PRETIX_VERSION = os.environ.get("PRETIX_VERSION", "2026.8.0")
ROOT = Path(__file__).resolve().parents[2]
HOME = ROOT / ".conformance"
VENV = HOME / "venv"
PYTHON = VENV / "bin" / "python"
CACHE = HOME / "cache"
RUN = HOME / "run"
SEED_SCRIPT = Path(__file__).resolve().parent / "pretix_seed.py"

INSTALL_SECONDS = 900  # measured ~5-50 s with uv; the bound is for a slow mirror
MIGRATE_SECONDS = 3000  # measured 96 s on an idle 2-core machine, more than 15 min on a loaded one
SEED_SECONDS = 300
SERVER_START_SECONDS = 60


class ConformanceError(RuntimeError):
    """A step of the conformance run failed; the message names the step and its log."""


def _log(message: str) -> None:
    print(f"[conformance] {message}", file=sys.stderr, flush=True)


def _nice() -> list[str]:
    """Installing and migrating run at a lower priority: the machine is shared with test runs."""
    return ["nice", "-n", "10"] if shutil.which("nice") else []


def _run(step: str, command: list[str], *, seconds: float, log: Path, env: dict | None = None) -> str:
    """Run one step with a bound; its output goes to `log`; stdout is also returned."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, env=env, cwd=HOME, capture_output=True, text=True, timeout=seconds, check=False
        )
    except subprocess.TimeoutExpired as exc:
        log.write_text(f"{exc.stdout or ''}\n{exc.stderr or ''}", encoding="utf-8")
        raise ConformanceError(f"{step}: still running after {seconds:.0f} s, stopped (log: {log})") from None
    log.write_text(f"{done.stdout}\n--- stderr ---\n{done.stderr}", encoding="utf-8")
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise ConformanceError(f"{step}: exit {done.returncode} (log: {log})\n{tail}")
    _log(f"{step}: {time.monotonic() - started:.1f} s")
    return done.stdout


def installed_version() -> str | None:
    if not PYTHON.exists():
        return None
    done = subprocess.run(
        [str(PYTHON), "-c", "import pretix; print(pretix.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_venv() -> None:
    """`.conformance/venv` with pretix==PRETIX_VERSION (uv venv + uv pip install), unless it has it."""
    if installed_version() == PRETIX_VERSION:
        return
    uv = [str(ROOT / "scripts" / "uv")]
    logs = HOME / "logs"
    if not PYTHON.exists():
        _run("uv venv", [*uv, "venv", "--python", "3.11", str(VENV)], seconds=120, log=logs / "venv.log")
    _run(
        f"uv pip install pretix=={PRETIX_VERSION}",
        [*_nice(), *uv, "pip", "install", "--python", str(PYTHON), f"pretix=={PRETIX_VERSION}"],
        seconds=INSTALL_SECONDS,
        log=logs / "install.log",
    )
    if installed_version() != PRETIX_VERSION:
        raise ConformanceError(f"pretix {PRETIX_VERSION} not importable from {VENV} after install")


def write_pretix_config(folder: Path, database: Path, port: int) -> Path:
    """pretix.cfg: SQLite, data in `folder`, the site URL on loopback, no Celery broker, no mail."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pretix.cfg"
    path.write_text(
        "\n".join(
            [
                "[pretix]",
                "instance_name=engage conformance",
                f"url=http://127.0.0.1:{port}",
                "currency=EUR",
                f"datadir={folder / 'data'}",
                "ecb_rates=false",
                "",
                "[database]",
                "backend=sqlite3",
                f"name={database}",
                "",
                "[mail]",
                "from=pretix@localhost",
                "host=127.0.0.1",
                "port=1",
                "",
                "[celery]",
                "",
            ]
        ),
        encoding="utf-8",
    )
    (folder / "data").mkdir(exist_ok=True)
    return path


def pretix_env(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PRETIX_"))}
    env.pop("VIRTUAL_ENV", None)
    return {**env, "PRETIX_CONFIG_FILE": str(config), **extra}


def migrated_database() -> Path:
    """The migrated, empty database for PRETIX_VERSION: migrated once, then copied from the cache."""
    cached = CACHE / f"pretix-{PRETIX_VERSION}.sqlite3"
    if cached.exists():
        return cached
    work = CACHE / "migrate"
    shutil.rmtree(work, ignore_errors=True)
    partial = work / "db.sqlite3"
    config = write_pretix_config(work, partial, 8000)
    _run(
        f"pretix {PRETIX_VERSION} migrate",
        [*_nice(), str(PYTHON), "-m", "pretix", "migrate", "--noinput"],
        seconds=MIGRATE_SECONDS,
        log=HOME / "logs" / "migrate.log",
        env=pretix_env(config),
    )
    os.replace(partial, cached)  # only a complete migration becomes the cache
    shutil.rmtree(work, ignore_errors=True)
    return cached


def prepare() -> Path:
    """Install and migrate as needed; the path of the cached migrated database."""
    HOME.mkdir(exist_ok=True)
    ensure_venv()
    return migrated_database()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PretixServer:
    """One run's pretix: a fresh copy of the migrated database, seeded, served on a free port."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.database = self.folder / "db.sqlite3"
        self.config = write_pretix_config(self.folder, self.database, self.port)
        self.log = self.folder / "pretix-server.log"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/"

    def reset_database(self, migrated: Path) -> None:
        shutil.copyfile(migrated, self.database)

    def seed_script(self, command: str, token: str) -> str:
        """Run pretix_seed.py (seed | change) with pretix's Python; its JSON line on stdout."""
        return (
            _run(
                f"pretix_seed.py {command}",
                [str(PYTHON), str(SEED_SCRIPT), command],
                seconds=SEED_SECONDS,
                log=self.folder / f"seed-{command}.log",
                env=pretix_env(self.config, PRETIX_CONFORMANCE_TOKEN=token),
            )
            .strip()
            .splitlines()[-1]
        )

    def start(self) -> None:
        """runserver in the background (its own process group); wait until the API answers 401."""
        handle = self.log.open("wb")
        self.process = subprocess.Popen(
            [str(PYTHON), "-m", "pretix", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=self.folder,
            env=pretix_env(self.config),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        stop_on_exit(self.stop, "pretix")
        started = time.monotonic()
        deadline = started + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise ConformanceError(f"pretix runserver exited {code}:\n{self._log_tail()}")
            with contextlib.suppress(requests.RequestException):
                answer = requests.get(f"{self.api_url}organizers/", timeout=5)
                if answer.status_code == 401:
                    _log(f"pretix runserver on port {self.port}: up in {time.monotonic() - started:.1f} s")
                    return
            time.sleep(0.5)
        self.stop()
        raise ConformanceError(
            f"pretix runserver did not answer within {SERVER_START_SECONDS} s:\n{self._log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after 10 s; safe to call twice."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        _log(f"pretix runserver (pid {process.pid}) stopped")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
        except OSError:
            return "(no server log)"


def main(argv: list[str]) -> int:
    if argv[1:] != ["prepare"]:
        print("usage: python -m tests.conformance.pretix_server prepare", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        cached = prepare()
    except ConformanceError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 1
    _log(f"pretix {PRETIX_VERSION} ready in {time.monotonic() - started:.1f} s ({cached.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
