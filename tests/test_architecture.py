"""The layout's rules (../shared/DESIGN.md, README "Layout"), checked on the source itself.

- `extractors/` talks to partner systems only: it imports nothing of the pipeline (`engage`), the
  warehouse (duckdb, dbt), Airflow or Cosmos, and not the simulator.
- Data flows one way through `engage/`: a stage never imports a later one.
- Production code imports the simulator only inside `engage demo`.
- No module is longer than about 450 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("extractors", "engage", "dags")
MAX_LINES = 460

# engage/<room> -> the rooms it must never import (the later stages and the orchestration around them).
LATER_ROOMS = {
    "landing": {"warehouse", "maintenance", "orchestration", "webhooks", "report", "cli", "pipeline"},
    "warehouse": {"maintenance", "orchestration", "webhooks", "cli", "pipeline"},
    "report": {"warehouse", "maintenance", "orchestration", "webhooks", "cli", "pipeline", "extract"},
    "privacy": {"orchestration", "webhooks", "cli", "pipeline"},
}


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, ast.AST, list[ast.AST]]]:
    """(module imported, the import node, its enclosing function/class nodes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, ast.AST, list[ast.AST]]] = []

    def visit(node: ast.AST, scope: list[ast.AST]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, child, scope) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, child, scope))
            inner = [*scope, child] if isinstance(child, ast.FunctionDef | ast.ClassDef) else scope
            visit(child, inner)

    visit(tree, [])
    return found


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_extractors_import_nothing_of_the_pipeline_warehouse_or_airflow():
    forbidden = ("engage", "duckdb", "dbt", "airflow", "cosmos", "simulator")
    offences = [
        f"{_rel(path)}:{node.lineno} imports {module}"
        for path in _python_files("extractors")
        for module, node, _ in _imports(path)
        if module.split(".")[0] in forbidden
    ]
    assert not offences, offences


def test_data_flows_one_way_through_the_pipeline_rooms():
    offences = []
    for path in _python_files("engage"):
        parts = path.relative_to(ROOT / "engage").with_suffix("").parts
        room = parts[0]
        for module, node, _ in _imports(path):
            pieces = module.split(".")
            if pieces[0] == "engage" and len(pieces) > 1 and pieces[1] in LATER_ROOMS.get(room, ()):
                offences.append(f"{_rel(path)}:{node.lineno} ({room}) imports {module}")
    assert not offences, offences


def test_production_code_imports_the_simulator_only_in_the_demo_command():
    offences = []
    for path in _python_files(*PRODUCTION):
        for module, node, scope in _imports(path):
            if module.split(".")[0] != "simulator":
                continue
            in_demo = _rel(path) == "engage/cli.py" and any(
                isinstance(s, ast.FunctionDef) and s.name == "demo" for s in scope
            )
            if not in_demo:
                offences.append(f"{_rel(path)}:{node.lineno} imports {module}")
    assert not offences, offences


@pytest.mark.parametrize("folder", ["extractors", "engage", "dags", "simulator", "tests", "scripts", "bench"])
def test_no_module_is_longer_than_about_450_lines(folder):
    long = {
        _rel(p): n
        for p in _python_files(folder)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_extractors_holds_only_partner_system_code():
    # the shared HTTP layer: the client (http.py) and what it refuses (http_limits.py)
    expected = {"__init__.py", "http.py", "http_limits.py", "streams.py", "source_config.py", "systems.py"}
    systems = {"pretix.py", "kobotoolbox.py", "limesurvey.py", "registry"}
    present = {p.name for p in (ROOT / "extractors").iterdir() if p.name != "__pycache__"}
    assert present <= expected | systems, present - expected - systems
