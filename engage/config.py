"""Pipeline configuration: one YAML file, validated by pydantic, with errors that name file and key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AnyHttpUrl,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

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
    # Requests served at once (more get 503 at once), and the time a sender has to deliver the whole
    # request, headers and body (a trickling sender gets 408): a flood cannot pile up threads.
    max_workers: int = Field(8, ge=1, le=256)
    request_deadline_seconds: float = Field(30.0, gt=0, le=600)
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


# A survey form's entry in `surveys.<source>.forms`: the item-map form key, or this marker for a
# form that is deliberately not an outcome survey (needs assessments, drafts, registration forms).
NOT_AN_OUTCOME_FORM = "(none)"
FormKey = Annotated[str, StringConstraints(pattern=r"^(\(none\)|[a-z][a-z0-9_]{0,62})$")]
FormId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class SurveySettings(StrictModel):
    """How the warehouse reads one KoboToolbox or LimeSurvey source (`surveys.<source name>`)."""

    # The server's forms by their own id (KoboToolbox asset uid, which is also the submissions'
    # `_xform_id_string`; LimeSurvey survey id), each to the survey_item_map form key whose
    # question names it uses, or "(none)". Ids differ on every server, so they live here, not in
    # the seed; a form that delivers responses and is not listed fails the build.
    forms: dict[FormId, FormKey] = Field(default_factory=dict)
    # LimeSurvey stores wall-clock times of the server's zone (an IANA name); KoboToolbox is UTC.
    server_timezone: str = "UTC"

    @field_validator("forms", mode="before")
    @classmethod
    def _ids_as_text(cls, value: object) -> object:
        # YAML reads a LimeSurvey survey id (461572:) as a number; the id is text everywhere else.
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("server_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as Europe/Brussels, got {value!r}") from None
        return value


class FreshnessThreshold(StrictModel):
    warn_after_hours: int = Field(ge=1)
    error_after_hours: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> FreshnessThreshold:
        if self.error_after_hours < self.warn_after_hours:
            raise ValueError("error_after_hours must be at least warn_after_hours")
        return self


def _default_freshness() -> dict[str, FreshnessThreshold]:
    partner = FreshnessThreshold(warn_after_hours=48, error_after_hours=168)
    # registers are exported by hand, monthly at best: a quiet inbox is not an outage
    registry = FreshnessThreshold(warn_after_hours=45 * 24, error_after_hours=120 * 24)
    return {"pretix": partner, "kobotoolbox": partner, "limesurvey": partner, "registry": registry}


class FreshnessSettings(StrictModel):
    """Source freshness after each build (dbt's rule): how old each system's newest load may be."""

    enabled: bool = True
    thresholds: dict[Literal["pretix", "kobotoolbox", "limesurvey", "registry"], FreshnessThreshold] = Field(
        default_factory=_default_freshness
    )

    def threshold(self, system: str) -> FreshnessThreshold:
        return self.thresholds.get(system) or _default_freshness()[system]


class PipelineConfig(StrictModel):
    # The demo (simulator data): enables the dbt tests tagged demo_figures, which check the demo's
    # headline figures and fail on any other data. Never true in a real deployment.
    demo: bool = False
    paths: Paths = Paths()
    privacy: Privacy = Privacy()
    alerts: AlertSettings = AlertSettings()
    retention: RetentionSettings = RetentionSettings()
    publish: PublishSettings = PublishSettings()
    webhooks: WebhookSettings = WebhookSettings()
    dbt_project_dir: Path = Path("../dbt_project")
    timezone: str = "Europe/Brussels"
    sources: dict[Identifier, SourceConfig] = Field(min_length=1)
    surveys: dict[Identifier, SurveySettings] = Field(default_factory=dict)
    freshness: FreshnessSettings = FreshnessSettings()

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

    @model_validator(mode="after")
    def _surveys_name_survey_sources(self) -> PipelineConfig:
        for name in self.surveys:
            kind = getattr(self.sources.get(name), "kind", None)
            if kind not in {"kobotoolbox", "limesurvey"}:
                raise ValueError(
                    f"surveys.{name}: expected the name of a kobotoolbox or limesurvey source "
                    f"under sources (got {kind or 'no such source'})"
                )
        return self

    def survey_settings(self, name: str) -> SurveySettings:
        return self.surveys.get(name) or SurveySettings()

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
