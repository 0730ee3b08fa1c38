"""How a partner system is configured: where it is, its credentials, its streams and HTTP limits.

The pipeline's configuration (engage/config.py) holds one of these per source instance; the
extractors read only their own source's model, never the rest of the pipeline's settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

# Source instance names become DAG ids, landing folders and raw-table values: keep them plain.
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]


class TokenCredentials(StrictModel):
    token_env: EnvVarName = Field(description="environment variable holding the API token")


class LoginCredentials(StrictModel):
    username_env: EnvVarName
    password_env: EnvVarName


def _origin(url: AnyHttpUrl) -> str:
    """An allow-listed origin is scheme, host and port: a path or query would be a mistake."""
    if (url.path or "/") != "/" or url.query or url.fragment:
        raise ValueError(f"an origin has no path or query, e.g. https://cdn.example.org (got {url})")
    return url


class HttpSettings(StrictModel):
    """Every wait and size an extraction may spend; each ends in an error naming what was exceeded."""

    timeout_seconds: float = Field(30.0, gt=0, description="connect, and each read of the socket")
    max_retries: int = Field(5, ge=0, le=20)
    backoff_factor: float = Field(0.5, ge=0)
    page_size: int = Field(200, ge=1, le=30000)
    max_retry_after_seconds: float = Field(
        300.0, ge=0, description="a longer Retry-After fails the stream instead of being waited out"
    )
    response_deadline_seconds: float = Field(
        120.0, gt=0, description="one response, connect to last body byte (however slowly it trickles)"
    )
    max_response_mib: float = Field(64.0, gt=0, description="one response body after decompression")
    max_pages: int = Field(100_000, ge=1, description="list pages one stream run may read")
    stream_budget_seconds: float = Field(
        3 * 3600.0, gt=0, description="one stream run, every request, retry and wait included"
    )
    extra_origins: list[Annotated[AnyHttpUrl, AfterValidator(_origin)]] = Field(
        default_factory=list,
        description="origins besides base_url's that links and redirects may lead to (a CDN); default none",
    )


class _Source(StrictModel):
    schedule: str = "@daily"
    owner: str = "data-engineering"
    http: HttpSettings = HttpSettings()

    @property
    def location(self) -> str:
        """Where the source is read from, for people: its URL or its folder."""
        return str(getattr(self, "base_url", None) or getattr(self, "inbox", ""))

    @field_validator("streams", check_fields=False)
    @classmethod
    def _unique_streams(cls, streams: list[str]) -> list[str]:
        if len(set(streams)) != len(streams):
            raise ValueError("each stream may be listed once")
        return streams


# pretix's max_page_size (api/pagination.py): a larger page_size is silently capped to it.
PRETIX_MAX_PAGE_SIZE = 50


class PretixSource(_Source):
    kind: Literal["pretix"]
    base_url: AnyHttpUrl
    organizer: str = Field(min_length=1)
    credentials: TokenCredentials
    http: HttpSettings = HttpSettings(page_size=PRETIX_MAX_PAGE_SIZE)

    @field_validator("http", mode="before")
    @classmethod
    def _pretix_page_size(cls, http: object) -> object:
        """An `http` block without page_size gets the server's maximum, not the generic 200."""
        if isinstance(http, dict) and "page_size" not in http:
            return {**http, "page_size": PRETIX_MAX_PAGE_SIZE}
        return http

    streams: list[Literal["events", "orders", "checkins"]] = Field(
        default_factory=lambda: ["events", "orders"], min_length=1
    )


IdentifyingAction = Literal["pseudonymise", "drop"]

# Survey questions that identify a respondent, in the programme's own forms (docs/privacy.md). A
# deployer whose partners ask under other names sets `identifying_questions` (KoboToolbox paths,
# groups joined by "/") or `pseudonymised_codes` / `dropped_codes` (LimeSurvey question codes);
# every other answer is kept as free text, scrubbed of emails and phone numbers.
DEFAULT_KOBO_IDENTIFYING_QUESTIONS: dict[str, IdentifyingAction] = {
    "respondent/email": "pseudonymise",
    "respondent/name": "pseudonymise",
    "respondent/phone": "drop",
}
DEFAULT_LIMESURVEY_PSEUDONYMISED_CODES = ("EMAIL", "CORREO", "EMAILADDRESS", "NAME", "NOMBRE", "FULLNAME")
DEFAULT_LIMESURVEY_DROPPED_CODES = ("FIRSTNAME", "LASTNAME", "NOMBRES", "APELLIDOS")


class KoboSource(_Source):
    kind: Literal["kobotoolbox"]
    base_url: AnyHttpUrl  # the server root, e.g. https://eu.kobotoolbox.org/
    credentials: TokenCredentials
    streams: list[Literal["assets", "submissions"]] = Field(
        default_factory=lambda: ["assets", "submissions"], min_length=1
    )
    asset_uids: list[str] = Field(default_factory=list, description="forms to read; empty: every survey")
    identifying_questions: dict[str, IdentifyingAction] = Field(
        default_factory=lambda: dict(DEFAULT_KOBO_IDENTIFYING_QUESTIONS),
        description="question paths holding a respondent's identifiers: pseudonymise or drop",
    )


class LimeSurveySource(_Source):
    kind: Literal["limesurvey"]
    base_url: AnyHttpUrl  # the RemoteControl 2 endpoint, .../index.php/admin/remotecontrol
    credentials: LoginCredentials
    streams: list[Literal["surveys", "responses"]] = Field(
        default_factory=lambda: ["surveys", "responses"], min_length=1
    )
    survey_ids: list[int] = Field(
        default_factory=list, description="surveys to read; empty: every active one"
    )
    reread_incomplete_days: int = Field(
        14,
        ge=0,
        le=366,
        description="re-read responses completed after they were landed, if started this many days ago"
        " at most (0: never)",
    )
    pseudonymised_codes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LIMESURVEY_PSEUDONYMISED_CODES),
        description="question codes holding a respondent's email or full name (become <code>_pseudonym)",
    )
    dropped_codes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LIMESURVEY_DROPPED_CODES),
        description="question codes holding other identifiers (name parts): never landed",
    )


class RegistrySource(_Source):
    kind: Literal["registry"]
    inbox: Path  # relative paths are taken from the config file's folder
    streams: list[Literal["experts", "stakeholders", "mapped_projects", "assistance_requests"]] = Field(
        default_factory=lambda: ["experts", "stakeholders", "mapped_projects", "assistance_requests"],
        min_length=1,
    )


SourceConfig = Annotated[
    PretixSource | KoboSource | LimeSurveySource | RegistrySource, Field(discriminator="kind")
]
