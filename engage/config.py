"""Pipeline configuration: one YAML file, validated by pydantic, with errors that name file and key."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import AnyHttpUrl, Field, ValidationError

from extractors.source_config import (
    EnvVarName,
    Identifier,
    RegistrySource,
    SourceConfig,
    StrictModel,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "pipeline.yml"
CONFIG_ENV_VAR = "ENGAGE_CONFIG"


class ConfigError(Exception):
    """The configuration file cannot be used; the message names the file and the keys at fault."""


class Paths(StrictModel):
    landing: Path = Path("../data/landing")
    warehouse: Path = Path("../data/warehouse.duckdb")
    marts: Path = Path("../data/marts.duckdb")
    published: Path = Path("../data/published")


class Privacy(StrictModel):
    key_env: str = "ENGAGE_PSEUDONYMISATION_KEY"
    # Only for the demo and tests: without the environment variable, fall back to a public key.
    allow_demo_key: bool = False


class AlertSettings(StrictModel):
    """Where failure alerts go besides the log."""

    webhook_url_env: EnvVarName | None = None  # environment variable holding a webhook URL
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = "engage-pipeline@localhost"
    smtp_to: list[str] = Field(default_factory=list)


class RetentionSettings(StrictModel):
    """What the maintenance DAG (and `engage maintain`) may delete from the landing zone."""

    # Committed batches extracted more than this many days ago may go; 0 or null: keep forever.
    landing_days: int | None = Field(400, ge=0)
    # Only batches the warehouse has loaded (in audit.batches) are deleted; `false` also lets old
    # batches that were never loaded go (e.g. a stream whose warehouse was abandoned).
    keep_loaded_only: bool = True


class PublishSettings(StrictModel):
    """The publish gate (engage/warehouse/publish_gate.py): how far the published marts may shrink."""

    # A fact table's rows or a headline KPI count may fall by this share of the published figure
    # (plus the rows recorded erasures removed) before the publish is blocked; 0: no shrinkage.
    max_shrink_percent: float = Field(0.0, ge=0, le=100)


class WebhookSettings(StrictModel):
    """The partner-push receiver (`engage webhooks`, engage/webhooks/; docs/webhooks.md)."""

    host: str = "127.0.0.1"
    port: int = Field(8790, ge=0, le=65535)
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Source name -> environment variable holding its shared secret. A source not listed here uses
    # ENGAGE_WEBHOOK_SECRET_<NAME> (upper case); a source whose variable is empty takes no pushes.
    secret_envs: dict[Identifier, EnvVarName] = Field(default_factory=dict)
    # How long a pushed notification id / submission is remembered to reject replays.
    replay_window_days: int = Field(30, ge=1)
    # The Airflow api-server root (e.g. http://airflow-apiserver:8080/): pushes raise asset events
    # there. Unset: the receiver refreshes the warehouse itself (load, dbt build, publish).
    airflow_api_url: AnyHttpUrl | None = None
    airflow_token_env: EnvVarName | None = "ENGAGE_AIRFLOW_API_TOKEN"
    # Or a login: the token is fetched from the api-server's /auth/token when the token is unset.
    airflow_username_env: EnvVarName | None = "ENGAGE_AIRFLOW_API_USERNAME"
    airflow_password_env: EnvVarName | None = "ENGAGE_AIRFLOW_API_PASSWORD"

    def secret_env(self, source_name: str) -> str:
        return self.secret_envs.get(source_name) or f"ENGAGE_WEBHOOK_SECRET_{source_name.upper()}"


class PipelineConfig(StrictModel):
    paths: Paths = Paths()
    privacy: Privacy = Privacy()
    alerts: AlertSettings = AlertSettings()
    retention: RetentionSettings = RetentionSettings()
    publish: PublishSettings = PublishSettings()
    webhooks: WebhookSettings = WebhookSettings()
    dbt_project_dir: Path = Path("../dbt_project")
    timezone: str = "Europe/Brussels"
    sources: dict[Identifier, SourceConfig] = Field(min_length=1)

    # Set by load_config: where the file was, so relative paths resolve against it.
    config_path: Path | None = None

    def resolve(self, path: Path) -> Path:
        """A configured path, absolute: relative ones are taken from the config file's folder."""
        if path.is_absolute() or self.config_path is None:
            return path
        return (self.config_path.parent / path).resolve()

    @property
    def landing_dir(self) -> Path:
        return self.resolve(self.paths.landing)

    @property
    def warehouse_path(self) -> Path:
        return self.resolve(self.paths.warehouse)

    @property
    def marts_path(self) -> Path:
        return self.resolve(self.paths.marts)

    @property
    def published_dir(self) -> Path:
        return self.resolve(self.paths.published)

    @property
    def dbt_dir(self) -> Path:
        return self.resolve(self.dbt_project_dir)

    def source(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            known = ", ".join(sorted(self.sources))
            raise ConfigError(f"no source named {name!r} in {self.config_path} (known: {known})") from None


def config_path_from_env() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH))


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{key}: {error['msg']}{shown}"


def load_config(path: Path | str | None = None) -> PipelineConfig:
    """Read and validate the pipeline configuration; raise ConfigError naming file and key."""
    path = Path(path) if path is not None else config_path_from_env()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level (paths, privacy, sources)")
    try:
        config = PipelineConfig.model_validate({**data, "config_path": path.resolve()})
    except ValidationError as exc:
        problems = "\n  ".join(_describe(err) for err in exc.errors())
        raise ConfigError(f"{path}: invalid configuration\n  {problems}") from None
    resolved = {
        name: source.model_copy(update={"inbox": config.resolve(source.inbox)})
        if isinstance(source, RegistrySource)
        else source
        for name, source in config.sources.items()
    }
    return config.model_copy(update={"sources": resolved})
