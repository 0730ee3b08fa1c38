"""The analyst guide's queries run on the demo warehouse: every ```sql block of
docs/analyst-guide.md is executed against the published, read-only `marts.duckdb` and must
return at least one row, and there is at least one query per question PROGRAMME.md lists."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from engage.config import PipelineConfig, load_config
from engage.pipeline import run_pipeline
from tests.conftest import PROJECT_ROOT, write_config

pytestmark = pytest.mark.integration

GUIDE = PROJECT_ROOT / "docs" / "analyst-guide.md"
PROGRAMME = Path("/work/shared/PROGRAMME.md")
QUESTIONS_HEADING = "Questions the marts must answer"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)
ENV = {
    "pretix": {"token": "ENGAGE_GUIDE_PRETIX_TOKEN"},
    "kobotoolbox": {"token": "ENGAGE_GUIDE_KOBO_TOKEN"},
    "limesurvey": {"username": "ENGAGE_GUIDE_LS_USER", "password": "ENGAGE_GUIDE_LS_PASSWORD"},
}


def demo_config(folder: Path, simulator: object) -> PipelineConfig:
    """A config with every demo source (pretix, KoboToolbox, LimeSurvey, registry inbox) in `folder`."""
    from simulator.registry_files import write_inbox
    from simulator.server import DEMO_CREDENTIALS

    for kind, variables in ENV.items():
        for field, variable in variables.items():
            os.environ[variable] = DEMO_CREDENTIALS[kind][field]
    inbox = folder / "inbox"
    write_inbox(inbox)
    base = simulator.base_url  # type: ignore[attr-defined]
    sources = {
        "pretix_test": {
            "kind": "pretix",
            "base_url": simulator.pretix_url,  # type: ignore[attr-defined]
            "organizer": "ecccn",
            "credentials": {"token_env": ENV["pretix"]["token"]},
            "http": {"page_size": 500, "backoff_factor": 0.01},
        },
        "kobo_test": {
            "kind": "kobotoolbox",
            "base_url": simulator.kobo_url,  # type: ignore[attr-defined]
            "credentials": {"token_env": ENV["kobotoolbox"]["token"]},
            "http": {"backoff_factor": 0.01},
        },
        "limesurvey_test": {
            "kind": "limesurvey",
            "base_url": f"{base}/limesurvey/index.php/admin/remotecontrol",
            "credentials": {
                "username_env": ENV["limesurvey"]["username"],
                "password_env": ENV["limesurvey"]["password"],
            },
            "http": {"backoff_factor": 0.01},
        },
        "registry_test": {"kind": "registry", "inbox": str(inbox)},
    }
    return load_config(write_config(folder, simulator.pretix_url, sources=sources))  # type: ignore[attr-defined]


def questions(text: str) -> list[str]:
    """The bullet list under the "Questions the marts must answer" heading of a markdown text."""
    lines = text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith("#") and QUESTIONS_HEADING in line), None
    )
    if start is None:
        return []
    found: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("- "):
            found.append(line[2:].strip())
        elif line.startswith("  ") and found:
            found[-1] += " " + line.strip()
    return found


def guide_queries() -> list[str]:
    return [block.strip() for block in SQL_BLOCK.findall(GUIDE.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def marts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from simulator.server import start_simulator

    with start_simulator(port=0) as handle:
        config = demo_config(tmp_path_factory.mktemp("guide"), handle)
        summary = run_pipeline(config)
    failed = [n for n in summary.dbt_nodes if n.status not in {"success", "pass"}]
    assert not failed, failed
    yield config.marts_path


def test_the_guide_answers_every_programme_question() -> None:
    source = (
        PROGRAMME.read_text(encoding="utf-8") if PROGRAMME.exists() else GUIDE.read_text(encoding="utf-8")
    )
    listed = questions(source)
    assert listed, "no questions found"
    assert len(guide_queries()) >= len(listed)


@pytest.mark.parametrize("query", guide_queries(), ids=lambda q: q.splitlines()[0][:60])
def test_every_guide_query_runs_and_returns_rows(marts: Path, query: str) -> None:
    with duckdb.connect(str(marts), read_only=True) as con:
        rows = con.execute(query).fetchall()
    assert rows, query
