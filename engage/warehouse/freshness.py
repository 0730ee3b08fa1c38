"""`dbt source freshness` for the configured streams, with thresholds from the configuration.

A stale source does not stop the run: the marts are still published from what the warehouse
holds, the summary says which source is stale, and an alert goes to the configured notifiers
(`alerts`), so someone learns a partner stopped delivering before the figures age unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass

from engage.config import PipelineConfig
from engage.warehouse.dbt import dbt_args, dbt_environment
from engage.warehouse.schema import release_in_process_dbt
from engage.warehouse.writer_slot import writer_slot


@dataclass(frozen=True)
class SourceFreshness:
    system: str
    stream: str
    status: str  # pass, warn, error, or runtime error (e.g. nothing loaded yet)
    age_hours: float | None
    warn_after_hours: int
    error_after_hours: int

    @property
    def is_stale(self) -> bool:
        return self.status != "pass"

    def line(self) -> str:
        age = "nothing loaded yet" if self.age_hours is None else f"newest load {self.age_hours:.1f} h old"
        return (
            f"{self.system}.{self.stream}: {self.status} ({age}; warn after {self.warn_after_hours} h, "
            f"error after {self.error_after_hours} h)"
        )


def freshness_selectors(config: PipelineConfig) -> list[str]:
    """One dbt source selector per configured system and stream (each raw table once)."""
    wanted = {(source.kind, stream) for source in config.sources.values() for stream in source.streams}
    return [f"source:{kind}.{stream}" for kind, stream in sorted(wanted)]


def check_freshness(config: PipelineConfig) -> list[SourceFreshness]:
    """Run `dbt source freshness` on the configured streams; never raises for a stale source."""
    if not config.freshness.enabled:
        return []
    from dbt.cli.main import dbtRunner  # heavy: imported only when dbt actually runs

    # --no-write-json: the results are read from the returned object; writing manifest.json and
    # sources.json again was 5 of its 7 s (the build's manifest.json stays as the build wrote it)
    command = ["source", "freshness", "--select", *freshness_selectors(config), "--quiet", "--no-write-json"]
    with writer_slot(config.warehouse_path), dbt_environment(config):
        try:
            outcome = dbtRunner().invoke(dbt_args(config, command))
        finally:
            release_in_process_dbt()
    results = getattr(outcome.result, "results", None)
    if results is None:  # dbt itself failed (bad project, unreadable warehouse): that is an error
        raise RuntimeError(f"dbt source freshness failed: {outcome.exception or 'see the dbt log'}")
    checked = []
    for result in results:
        system, stream = result.node.source_name, result.node.name
        threshold = config.freshness.threshold(system)
        age = getattr(result, "age", None)
        checked.append(
            SourceFreshness(
                system,
                stream,
                str(result.status),
                None if age is None else age / 3600,
                threshold.warn_after_hours,
                threshold.error_after_hours,
            )
        )
    return sorted(checked, key=lambda item: (item.system, item.stream))
