"""The whole run, stage by stage: the same functions Airflow's tasks and the tests call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engage.config import ConfigError, PipelineConfig
from engage.extract import ExtractResult, extract_stream
from engage.privacy.pseudonymise import MissingKeyError, Pseudonymiser
from engage.warehouse.dbt import NodeResult, TransformError, build, docs_page_to_publish
from engage.warehouse.freshness import SourceFreshness, check_freshness
from engage.warehouse.loader import LoadResult, load_pending
from engage.warehouse.publish import PublishResult, publish, remove_unfinished_publish
from engage.warehouse.refresh_state import has_unpublished_loads
from engage.warehouse.survey_coverage import FormCoverage, survey_coverage, unmapped_form_lines


@dataclass
class StreamSummary:
    source_instance: str
    stream: str
    extracted: int = 0
    loaded: int = 0
    quarantined: int = 0
    note: str = ""
    source_count: int | None = None  # what the source's lists counted for the run (None: no count)
    source_received: int = 0


@dataclass
class RunSummary:
    streams: dict[tuple[str, str], StreamSummary] = field(default_factory=dict)
    dbt_nodes: list[NodeResult] = field(default_factory=list)
    published: PublishResult | None = None
    survey_forms: list[FormCoverage] = field(default_factory=list)
    freshness: list[SourceFreshness] = field(default_factory=list)
    # Why dbt and publish did not run (nothing new loaded), or "" when they ran.
    skipped: str = ""

    def stream(self, source: str, stream: str) -> StreamSummary:
        return self.streams.setdefault((source, stream), StreamSummary(source, stream))

    def add_extract(self, result: ExtractResult) -> None:
        entry = self.stream(result.source_instance, result.stream)
        entry.extracted += result.records
        entry.note = result.note
        entry.source_count = result.source_count
        entry.source_received = result.source_received

    def add_load(self, result: LoadResult) -> None:
        entry = self.stream(result.source_instance, result.stream)
        entry.loaded += result.loaded
        entry.quarantined += result.quarantined


def configured_streams(config: PipelineConfig, only_source: str | None = None) -> list[tuple[str, str]]:
    return [
        (name, stream)
        for name, source in config.sources.items()
        if only_source in (None, name)
        for stream in source.streams
    ]


def check_ready(config: PipelineConfig) -> None:
    """Fail before any work on what would fail later anyway: the pseudonymisation key first."""
    try:
        Pseudonymiser.from_environment(config.privacy.key_env, allow_demo_key=config.privacy.allow_demo_key)
    except MissingKeyError as exc:  # the message names the variable, never a value
        raise ConfigError(f"{config.config_path}: privacy.key_env: {exc}") from None


def transform(
    config: PipelineConfig,
    *,
    on_dbt_node: Callable[[str, str], None] | None = None,
    full_refresh: bool = False,
    everything: bool = False,
) -> list[NodeResult]:
    """dbt build of what the new loads feed (engage/warehouse/build_plan.py); a failure on unmapped
    survey forms names each source, form and response count."""
    try:
        return build(config, on_node=on_dbt_node, full_refresh=full_refresh, everything=everything)
    except TransformError as exc:
        lines = unmapped_form_lines(config)
        if not lines:
            raise
        raise TransformError(f"{exc}\nsurvey forms without a mapping:\n  " + "\n  ".join(lines)) from None


def run_pipeline(
    config: PipelineConfig,
    *,
    only_source: str | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_extract_page: Callable[[str, str, int], None] | None = None,
    on_dbt_node: Callable[[str, str], None] | None = None,
    rebuild: bool = False,
    full_refresh: bool = False,
    allow_shrink: bool = False,
) -> RunSummary:
    """Extract every configured stream, load what landed, build the warehouse, publish the marts.

    Nothing new loaded and the published version current: dbt and publish are skipped (the
    summary says why), unless `rebuild` (every model) or `full_refresh` (every model from raw).
    `allow_shrink` lets a deliberate shrinkage through the publish gate
    (engage/warehouse/publish_gate.py).
    """
    check_ready(config)
    summary = RunSummary()
    notify = on_stage or (lambda stage: None)
    notify("extract")
    for source_name, stream_name in configured_streams(config, only_source):
        summary.stream(source_name, stream_name)

        def on_page(count: int, s: str = source_name, t: str = stream_name) -> None:
            if on_extract_page:
                on_extract_page(s, t, count)

        summary.add_extract(extract_stream(config, source_name, stream_name, on_page=on_page))
    notify("load")
    loaded = load_pending(config)
    for result in loaded:
        summary.add_load(result)
    if not (rebuild or full_refresh) and not loaded and not has_unpublished_loads(config):
        summary.skipped = "nothing new loaded and the published version is current: dbt and publish skipped"
        notify("skipped")
        remove_unfinished_publish(config)
        notify("freshness")
        _check_freshness(config, summary)  # a source that went quiet is exactly what freshness is for
        return summary
    notify("transform")
    summary.dbt_nodes = transform(
        config, on_dbt_node=on_dbt_node, full_refresh=full_refresh, everything=rebuild
    )
    summary.survey_forms = survey_coverage(config)
    notify("publish")
    summary.published = publish(config, docs_page=docs_page_to_publish(config), allow_shrink=allow_shrink)
    notify("freshness")
    _check_freshness(config, summary)
    return summary


def _check_freshness(config: PipelineConfig, summary: RunSummary) -> None:
    """Source freshness of what is loaded; a stale source is in the summary and alerted."""
    from engage.orchestration.freshness_alerts import alert_stale

    summary.freshness = check_freshness(config)
    alert_stale(config, summary.freshness, where="engage run")
