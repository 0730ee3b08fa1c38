"""The configuration: validated by pydantic, errors that name the file, the key and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engage.cli import app
from engage.config import DEFAULT_CONFIG_PATH, ConfigError, load_config
from tests.conftest import write_config


def test_the_shipped_configuration_is_valid() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert "pretix_demo" in config.sources
    assert (
        config.warehouse_path == (DEFAULT_CONFIG_PATH.parent.parent / "data" / "warehouse.duckdb").resolve()
    )


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
