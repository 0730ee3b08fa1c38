"""The configuration: validated by pydantic, errors that name the file, the key and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engage.cli import app
from engage.config import DEFAULT_CONFIG_PATH, PROJECT_ROOT, ConfigError, load_config
from tests.conftest import write_config


def test_the_shipped_configuration_is_valid() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert "pretix_demo" in config.sources
    assert (
        config.warehouse_path == (DEFAULT_CONFIG_PATH.parent.parent / "data" / "warehouse.duckdb").resolve()
    )


def _with_kobo(settings: dict):
    """Adds a KoboToolbox source and `surveys.kobo_test` set to `settings`."""

    def mutate(data: dict) -> None:
        data["sources"]["kobo_test"] = {
            "kind": "kobotoolbox",
            "base_url": "http://127.0.0.1:1/kobo/",
            "credentials": {"token_env": "KOBO_TOKEN"},
        }
        data["surveys"] = {"kobo_test": settings}

    return mutate


def _broken(tmp_path: Path, mutate) -> Path:
    path = write_config(tmp_path, "http://127.0.0.1:1/pretix/api/v1/")
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "key", "expected"),
    [
        (
            lambda d: d["sources"]["pretix_test"].update(base_url="not a url"),
            "sources.pretix_test.pretix.base_url",
            "URL",
        ),
        (
            lambda d: d["sources"]["pretix_test"].update(streams=["events", "tickets"]),
            "streams.1",
            "'events', 'orders' or 'checkins'",
        ),
        (lambda d: d["sources"]["pretix_test"].update(kind="eventbrite"), "sources.pretix_test", "pretix"),
        (
            lambda d: d["sources"]["pretix_test"]["credentials"].update(token_env="lower-case"),
            "token_env",
            "pattern",
        ),
        (
            lambda d: d["sources"]["pretix_test"].update(colour="blue"),
            "colour",
            "Extra inputs are not permitted",
        ),
        (lambda d: d.update(sources={}), "sources", "at least 1"),
        (
            lambda d: d["sources"].update({"Bad Name": d["sources"]["pretix_test"]}),
            "sources.Bad Name",
            "pattern",
        ),
        (
            lambda d: d.update(surveys={"pretix_test": {"forms": {}}}),
            "surveys.pretix_test",
            "kobotoolbox or limesurvey",
        ),
        (lambda d: d.update(surveys={"kobo_typo": {"forms": {}}}), "surveys.kobo_typo", "no such source"),
        (_with_kobo({"forms": {"aXYZ": "Post Activity"}}), "surveys.kobo_test.forms.aXYZ", "pattern"),
        (_with_kobo({"forms": {"a/../b": "kobo_post_activity"}}), "surveys.kobo_test.forms", "pattern"),
        (
            _with_kobo({"server_timezone": "Mars/Olympus"}),
            "surveys.kobo_test.server_timezone",
            "IANA time zone",
        ),
        (
            lambda d: d.update(
                freshness={"thresholds": {"pretix": {"warn_after_hours": 48, "error_after_hours": 2}}}
            ),
            "freshness.thresholds.pretix",
            "error_after_hours must be at least warn_after_hours",
        ),
        (
            lambda d: d.update(freshness={"thresholds": {"eventbrite": {}}}),
            "freshness.thresholds.eventbrite",
            "pretix",
        ),
        (lambda d: d.update(demo="sometimes"), "demo", "boolean"),
    ],
)
def test_a_bad_configuration_names_file_key_and_expectation(
    tmp_path: Path, mutate, key: str, expected: str
) -> None:
    path = _broken(tmp_path, mutate)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert key in message
    assert expected in message


def test_demo_and_production_templates_are_two_valid_configurations() -> None:
    demo = load_config(DEFAULT_CONFIG_PATH)
    production = load_config(PROJECT_ROOT / "config" / "pipeline.example.yml")
    assert demo.demo and demo.privacy.allow_demo_key
    assert not production.demo and not production.privacy.allow_demo_key and production.freshness.enabled
    # the demo points at the simulator; the template at no machine of ours
    assert all("127.0.0.1:8765" in s.location for s in demo.sources.values() if s.kind != "registry")
    assert not [s for s in production.sources.values() if s.kind != "registry" and "127.0.0.1" in s.location]
    # every survey source of the demo lists its forms, LimeSurvey ids read as text
    assert set(demo.surveys) == {
        n for n, s in demo.sources.items() if s.kind in {"kobotoolbox", "limesurvey"}
    }
    assert "461572" in demo.surveys["limesurvey_lac4_demo"].forms


def test_every_dbt_var_the_models_read_is_declared_and_set_from_the_configuration() -> None:
    import re

    from engage.warehouse.dbt import dbt_vars

    project = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text(encoding="utf-8"))
    sql = " ".join(
        path.read_text(encoding="utf-8")
        for folder in ("models", "macros", "tests")
        for path in (PROJECT_ROOT / "dbt_project" / folder).rglob("*")
        if path.suffix in {".sql", ".yml"}
    )
    read = set(re.findall(r"var\(\s*['\"](\w+)['\"]", sql))
    assert read and read <= set(project["vars"])  # declared, with the default a bare dbt run gets
    assert set(dbt_vars(load_config(DEFAULT_CONFIG_PATH))) == set(project["vars"])  # and all set
    assert project["require-dbt-version"]


def test_unreadable_and_non_mapping_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yml")
    not_yaml = tmp_path / "broken.yml"
    not_yaml.write_text("sources: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(not_yaml)
    scalar = tmp_path / "scalar.yml"
    scalar.write_text("just a string")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(scalar)


def test_the_command_line_refuses_to_run_on_a_bad_file(tmp_path: Path) -> None:
    path = _broken(tmp_path, lambda d: d["sources"]["pretix_test"].update(base_url="nope"))
    result = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 2
    assert "base_url" in result.output
    assert not (tmp_path / "landing").exists()  # nothing ran
