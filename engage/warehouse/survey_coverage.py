"""Survey responses per form: how many landed, how many reached fct_survey_response.

The run summary shows it so that a form whose responses do not reach the outcome marts is seen
at once; when the build fails on an unmapped form, the rows of assert_survey_forms_mapped say
which source and form, and how many responses wait on a configuration entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from engage.config import PipelineConfig
from engage.warehouse.dbt import docs_target
from engage.warehouse.writer_slot import writer_slot

FORMS_CHECK = "assert_survey_forms_mapped"

_COVERAGE_SQL = """
with landed as (
    select source_instance, 'kobotoolbox' as survey_system, form_uid as form_id,
        count(*) as landed,
        count(*) filter (where validation_status = 'validation_status_not_approved') as not_approved
    from staging.stg_kobotoolbox__submissions group by all
    union all
    select source_instance, 'limesurvey', cast(survey_id as varchar), count(*), 0
    from staging.stg_limesurvey__responses group by all
),
reached as (
    select source_instance, survey_system, form_id, count(*) as reached
    from marts.fct_survey_response group by all
)
select landed.source_instance, landed.survey_system, landed.form_id, landed.landed,
    landed.not_approved, coalesce(reached.reached, 0)
from landed
left join reached using (source_instance, survey_system, form_id)
order by all
"""


@dataclass(frozen=True)
class FormCoverage:
    source_instance: str
    survey_system: str
    form_id: str
    form_key: str | None  # from the configuration; None: not listed (assert_survey_forms_mapped fails)
    landed: int
    not_approved: int  # KoboToolbox submissions a reviewer rejected: left out on purpose
    reached: int  # rows in fct_survey_response

    @property
    def missing(self) -> int:
        """Responses that neither reached the mart nor were left out for a stated reason."""
        if self.form_key == "(none)":
            return 0
        return self.landed - self.not_approved - self.reached


def _has_relations(con: duckdb.DuckDBPyConnection, *names: str) -> bool:
    listed = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    found = {f"{schema}.{name}" for schema, name in listed}
    return all(name in found for name in names)


def survey_coverage(config: PipelineConfig, *, hold_writer_slot: bool = True) -> list[FormCoverage]:
    """Per survey form that landed responses: landed, left out as not approved, reached the mart."""
    needed = (
        "staging.stg_kobotoolbox__submissions",
        "staging.stg_limesurvey__responses",
        "marts.fct_survey_response",
    )

    def read() -> list[FormCoverage]:
        if not config.warehouse_path.exists():
            return []
        with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
            if not _has_relations(con, *needed):
                return []
            rows = con.execute(_COVERAGE_SQL).fetchall()
        return [
            FormCoverage(
                source,
                system,
                form_id,
                config.survey_settings(source).forms.get(form_id),
                landed,
                not_approved,
                reached,
            )
            for source, system, form_id, landed, not_approved, reached in rows
        ]

    if not hold_writer_slot:
        return read()
    with writer_slot(config.warehouse_path):
        return read()


def unmapped_form_lines(config: PipelineConfig) -> list[str]:
    """The rows assert_survey_forms_mapped found, one readable line each (empty if it passed)."""
    compiled = _compiled_test(config)
    if compiled is None or not config.warehouse_path.exists():
        return []
    with (
        writer_slot(config.warehouse_path),
        duckdb.connect(str(config.warehouse_path), read_only=True) as con,
    ):
        try:
            rows = con.execute(compiled.read_text(encoding="utf-8")).fetchall()
        except duckdb.Error:
            return []
    where = config.config_path or "the configuration"
    return [
        f"source {source}: {system} form {form_id} ({title or 'untitled'}) holds {count:,} responses: "
        f"{problem} ({where})"
        for source, system, form_id, title, count, _key, problem in rows
    ]


def _compiled_test(config: PipelineConfig) -> Path | None:
    compiled = docs_target(config) / "compiled" / "engage" / "tests" / f"{FORMS_CHECK}.sql"
    return compiled if compiled.exists() else None
