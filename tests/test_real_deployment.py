"""A real deployment, end to end: the production template (config/pipeline.example.yml) pointed at the
simulator on seeds other than the demo's, with nothing from the demo configuration.

Each seed is one module-scoped pipeline run (minutes): the marts are published, the demo-figure
tests are not built, every KoboToolbox and LimeSurvey response that landed reaches
fct_survey_response (or is left out for a stated reason), and a form the configuration does not
list fails the build with its source, id and response count. The missing-key check is cheap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from engage.config import PROJECT_ROOT, ConfigError, PipelineConfig, load_config
from engage.pipeline import RunSummary, run_pipeline
from engage.warehouse.dbt import TransformError, run_dbt
from engage.warehouse.survey_coverage import FORMS_CHECK, unmapped_form_lines
from simulator import kobo_data, limesurvey_data, pretix_data
from tests.simulator_forms import simulator_surveys

pytestmark = pytest.mark.integration

TEMPLATE = PROJECT_ROOT / "config" / "pipeline.example.yml"
KEY_ENV = "ENGAGE_PSEUDONYMISATION_KEY"
NOT_APPROVED = "validation_status_not_approved"


def production_config(folder: Path, simulator: Any, seed: int) -> Path:
    """The template as a data engineer fills it in, with the simulator as the partners' servers."""
    from simulator.registry_files import write_inbox
    from simulator.server import DEMO_CREDENTIALS

    data = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    data["paths"] = {
        "landing": str(folder / "landing"),
        "warehouse": str(folder / "warehouse.duckdb"),
        "marts": str(folder / "published" / "marts.duckdb"),
        "published": str(folder / "published"),
    }
    data["dbt_project_dir"] = str(PROJECT_ROOT / "dbt_project")
    sources = data["sources"]
    sources["pretix_main"].update(base_url=simulator.pretix_url, organizer="ecccn")
    sources["kobo_main"]["base_url"] = simulator.kobo_url
    sources["limesurvey_main"]["base_url"] = f"{simulator.base_url}/limesurvey/index.php/admin/remotecontrol"
    sources["registry_main"]["inbox"] = str(folder / "inbox")
    write_inbox(folder / "inbox", seed=seed)
    for source in sources.values():
        source["http"] = {"page_size": 500, "backoff_factor": 0.01}
    sources["pretix_main"]["http"]["page_size"] = 50  # real pretix caps pages at 50
    sources["kobo_main"]["http"]["page_size"] = 1000
    data["surveys"] = simulator_surveys(seed, kobo="kobo_main", limesurvey="limesurvey_main")
    os.environ["ENGAGE_PRETIX_MAIN_TOKEN"] = DEMO_CREDENTIALS["pretix"]["token"]
    os.environ["ENGAGE_KOBO_MAIN_TOKEN"] = DEMO_CREDENTIALS["kobotoolbox"]["token"]
    os.environ["ENGAGE_LIMESURVEY_MAIN_USER"] = DEMO_CREDENTIALS["limesurvey"]["username"]
    os.environ["ENGAGE_LIMESURVEY_MAIN_PASSWORD"] = DEMO_CREDENTIALS["limesurvey"]["password"]
    path = folder / "pipeline.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@dataclass(frozen=True)
class SeedRun:
    seed: int
    config: PipelineConfig
    summary: RunSummary


@pytest.fixture(scope="module", params=[11, 2027], ids=lambda seed: f"seed{seed}")
def seed_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedRun]:
    from simulator.server import start_simulator

    seed = request.param
    folder = tmp_path_factory.mktemp(f"deployment_seed{seed}")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv(KEY_ENV, f"a-real-deployment-key-for-seed-{seed}")
    try:
        with start_simulator(port=0, seed=seed) as handle:
            config = load_config(production_config(folder, handle, seed))
            summary = run_pipeline(config)
        yield SeedRun(seed, config, summary)
    finally:
        monkeypatch.undo()


def _landed_by_form(seed: int) -> dict[tuple[str, str], tuple[int, int]]:
    """What the simulator serves per form: (responses, of which not approved)."""
    dataset = pretix_data.generate(seed=seed)
    landed = {
        ("kobotoolbox", asset.uid): (
            len(asset.submissions),
            sum(1 for s in asset.submissions if s["_validation_status"].get("uid") == NOT_APPROVED),
        )
        for asset in kobo_data.generate(dataset).surveys
        if asset.submissions
    }
    for sid, survey in limesurvey_data.generate(dataset).surveys.items():
        if survey.responses:
            landed[("limesurvey", str(sid))] = (len(survey.responses), 0)
    return landed


def test_the_production_template_publishes_the_marts_without_demo_checks(seed_run: SeedRun) -> None:
    summary = seed_run.summary
    assert summary.published is not None and summary.published.database.exists()
    assert summary.published.tables["fct_survey_response"] > 0
    names = {node.name for node in summary.dbt_nodes}
    assert "assert_first_phase_figures" not in names  # not built outside the demo
    assert {"assert_survey_forms_mapped", "assert_survey_questions_mapped"} <= names
    assert [n.name for n in summary.dbt_nodes if n.status not in ("success", "pass")] == []


def test_every_landed_survey_response_reaches_fct_survey_response(seed_run: SeedRun) -> None:
    expected = _landed_by_form(seed_run.seed)
    coverage = {(f.survey_system, f.form_id): f for f in seed_run.summary.survey_forms}
    assert set(coverage) == set(expected)  # every form that holds responses is in the summary
    for key, (landed, not_approved) in expected.items():
        form = coverage[key]
        assert (form.landed, form.not_approved) == (landed, not_approved), key
        assert form.missing == 0, form
        if form.form_key != "(none)":
            assert form.reached == landed - not_approved > 0, form
    with duckdb.connect(str(seed_run.config.marts_path), read_only=True) as con:
        sql = "select survey_system || ':' || form_id, count(*) from fct_survey_response group by 1"
        published = dict(con.execute(sql).fetchall())
    assert published == {f"{f.survey_system}:{f.form_id}": f.reached for f in coverage.values() if f.reached}


def test_a_form_missing_from_the_configuration_fails_naming_source_form_and_count(seed_run: SeedRun) -> None:
    config = seed_run.config
    forms = dict(config.surveys["kobo_main"].forms)
    evaluation_uid = next(uid for uid, key in forms.items() if key == "kobo_post_activity")
    del forms[evaluation_uid]
    trimmed = config.model_copy(
        update={
            "surveys": {
                **config.surveys,
                "kobo_main": config.surveys["kobo_main"].model_copy(update={"forms": forms}),
            }
        }
    )
    with pytest.raises(TransformError, match=FORMS_CHECK):
        run_dbt(trimmed, ["test", "--select", FORMS_CHECK])
    [line] = unmapped_form_lines(trimmed)
    landed = next(f.landed for f in seed_run.summary.survey_forms if f.form_id == evaluation_uid)
    assert "source kobo_main" in line
    assert evaluation_uid in line and "Post-activity evaluation" in line
    assert f"holds {landed:,} responses" in line
    assert "surveys.kobo_main.forms" in line


def test_freshness_is_checked_with_the_configured_thresholds(seed_run: SeedRun) -> None:
    checked = {(f.system, f.stream): f for f in seed_run.summary.freshness}
    configured = {(s.kind, stream) for s in seed_run.config.sources.values() for stream in s.streams}
    assert set(checked) == configured
    assert all(f.status == "pass" for f in checked.values()), checked  # everything was just loaded
    assert checked[("registry", "experts")].warn_after_hours == 1080


def test_without_the_pseudonymisation_key_the_template_stops_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    path = tmp_path / "pipeline.yml"
    data = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    data["paths"] = {name: str(tmp_path / name) for name in ("landing", "warehouse", "marts", "published")}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        run_pipeline(load_config(path))
    message = str(error.value)
    assert str(path) in message and KEY_ENV in message and "privacy" in message
    assert not (tmp_path / "landing").exists()  # nothing was extracted


def test_the_demo_figure_check_is_real_and_only_the_demo_runs_it(seed_run: SeedRun) -> None:
    """With `demo: true` the check compares this seed's phase 1 with the demo's headline figures
    (it fails where they differ: seed 11); with `demo: false` it checks nothing and passes."""
    with duckdb.connect(str(seed_run.config.marts_path), read_only=True) as con:
        figures = con.execute(
            "select experts_in_pool, stakeholders_in_network, countries_engaged, activities, attendances "
            "from mart_programme_kpis where dimension = 'phase' and dimension_value = '1'"
        ).fetchone()
    is_the_demos = figures[:4] == (557, 126, 97, 252) and figures[4] > 13_000
    as_demo = seed_run.config.model_copy(update={"demo": True})
    if is_the_demos:
        [node] = run_dbt(as_demo, ["test", "--select", "assert_first_phase_figures"])
        assert node.status == "pass"
    else:
        with pytest.raises(TransformError, match="assert_first_phase_figures"):
            run_dbt(as_demo, ["test", "--select", "assert_first_phase_figures"])
    [node] = run_dbt(seed_run.config, ["test", "--select", "assert_first_phase_figures"])
    assert node.status == "pass"  # checks nothing outside the demo


def test_the_warehouse_dag_passes_the_configurations_vars_and_leaves_out_demo_figures(tmp_path: Path) -> None:
    from engage.orchestration.dag_factory import build_warehouse_dag
    from engage.warehouse.dbt import build_exclusions, dbt_args, dbt_vars

    path = tmp_path / "pipeline.yml"
    data = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    data["dbt_project_dir"] = str(PROJECT_ROOT / "dbt_project")
    data["surveys"]["limesurvey_main"]["server_timezone"] = "America/Bogota"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = load_config(path)
    dag = build_warehouse_dag(config)
    # one dbt task (the CLI's own build), not a task per node: its command carries the vars
    assert [t.task_id for t in dag.tasks] == ["load", "dbt_build", "publish"]
    args = dbt_args(config, ["build", "--exclude", *build_exclusions(config)])
    passed = json.loads(args[args.index("--vars") + 1])
    assert passed == dbt_vars(config)
    assert passed["limesurvey_server_timezones"] == {"limesurvey_main": "America/Bogota"}
    assert passed["demo"] is False and build_exclusions(config) == ["tag:demo_figures"]

    demo = load_config(PROJECT_ROOT / "config" / "pipeline.yml")
    assert dbt_vars(demo)["demo"] is True and build_exclusions(demo) == []  # the demo checks its figures


def test_a_stale_source_is_reported_and_alerted_through_the_configured_webhook(
    seed_run: SeedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The registry's newest load moved 130 days back (error after 120 days): freshness says so,
    and one alert reaches the log and a webhook receiver on loopback."""
    import json
    import shutil
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from engage.orchestration.freshness_alerts import alert_stale
    from engage.warehouse.freshness import check_freshness

    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(seed_run.config.warehouse_path, copy)
    wal = seed_run.config.warehouse_path.with_name(copy.name + ".wal")
    if wal.exists():  # not yet checkpointed: part of the database
        shutil.copy(wal, copy.with_name(wal.name))
    with duckdb.connect(str(copy)) as con:
        con.execute("update raw.registry__experts set loaded_at = loaded_at - interval 130 day")
        con.execute("update raw.registry__stakeholders set loaded_at = loaded_at - interval 50 day")  # warn
        con.execute("delete from raw.registry__assistance_requests")  # as if never loaded
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.timeout = 5
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("ENGAGE_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
        paths = seed_run.config.paths.model_copy(update={"warehouse": copy})
        config = seed_run.config.model_copy(update={"paths": paths})
        checked = check_freshness(config)
        stale = {(s.system, s.stream): s for s in checked if s.is_stale}
        assert {key: s.status for key, s in stale.items()} == {
            ("registry", "assistance_requests"): "error",
            ("registry", "experts"): "error",
            ("registry", "stakeholders"): "warn",
        }
        assert 130 * 24 <= stale[("registry", "experts")].age_hours < 131 * 24
        assert stale[("registry", "assistance_requests")].age_hours is None
        assert _dbt_source_freshness(config) == {(s.system, s.stream): s.status for s in checked}
        with caplog.at_level("ERROR", logger="engage.alerts"):
            alert = alert_stale(config, checked, where="engage run")
    finally:
        server.shutdown()
    assert alert is not None and "registry.experts: error" in alert.error
    assert "registry.assistance_requests: error (nothing loaded yet" in alert.error
    assert "error after 2880 h" in alert.error
    assert [r["source"] for r in received] == ["registry"]
    assert "stale sources" in received[0]["text"]
    assert any("registry.experts" in r.getMessage() for r in caplog.records)


def _dbt_source_freshness(config: PipelineConfig) -> dict[tuple[str, str], str]:
    """`dbt source freshness` on the configured streams: the rule the sources' YAML declares for
    analysts, which the pipeline's one-query check must agree with."""
    from dbt.cli.main import dbtRunner

    from engage.warehouse.dbt import dbt_args, dbt_environment
    from engage.warehouse.freshness import configured_raw_streams
    from engage.warehouse.schema import release_in_process_dbt

    selectors = [f"source:{system}.{stream}" for system, stream in configured_raw_streams(config)]
    with dbt_environment(config):
        try:
            outcome = dbtRunner().invoke(
                dbt_args(
                    config, ["source", "freshness", "--select", *selectors, "--quiet", "--no-write-json"]
                )
            )
        finally:
            release_in_process_dbt()
    results = outcome.result.results
    assert len(results) == len(selectors), outcome.exception
    return {(r.node.source_name, r.node.name): str(r.status) for r in results}
