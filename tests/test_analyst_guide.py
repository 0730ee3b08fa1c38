"""The analyst guide's queries run on the demo warehouse: every ```sql block of
docs/analyst-guide.md is executed against the published, read-only `marts.duckdb` and must
return at least one row, and there is at least one query per question PROGRAMME.md lists."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from tests.demo_warehouse import DemoWarehouse

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("demo_warehouse")]

GUIDE = PROJECT_ROOT / "docs" / "analyst-guide.md"
PROGRAMME = PROJECT_ROOT.parent / "shared" / "PROGRAMME.md"  # ../shared beside the checkout
QUESTIONS_HEADING = "Questions the marts must answer"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)


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
def marts(demo_warehouse: DemoWarehouse) -> Path:
    failed = [n for n in demo_warehouse.summary.dbt_nodes if n.status not in {"success", "pass"}]
    assert not failed, failed
    return demo_warehouse.config.marts_path


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
