"""`engage`: the pipeline from the command line, stage by stage or whole, with a closing summary."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from engage.config import ConfigError, PipelineConfig, load_config
from engage.console import console, print_kpis, print_report, print_summary, run_with_progress
from engage.pipeline import configured_streams

app = typer.Typer(
    help="Partner engagement pipeline: extract, load, transform, publish.", no_args_is_help=True
)
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="pipeline YAML (default: $ENGAGE_CONFIG or config/pipeline.yml)"),
]


def _config(path: Path | None) -> PipelineConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        console.print(f"[bold red]configuration error[/] {exc}", highlight=False)
        raise typer.Exit(2) from None


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _publish_blocked(config: PipelineConfig, command: str, exc: Exception) -> typer.Exit:
    """Say why the publish was held back, alert through the configured notifiers, exit 1."""
    from engage.orchestration.alerts import Alert, notifiers_for, send_alert

    console.print(f"[bold red]publish blocked[/] {exc}", highlight=False)
    alert = Alert(
        "engage-cli", command, "all", "all", str(exc), f"`engage {command}` on {socket.gethostname()}"
    )
    send_alert(alert, notifiers_for(config.alerts))
    return typer.Exit(1)


def _run(
    config: PipelineConfig,
    only_source: str | None,
    *,
    rebuild: bool = False,
    full_refresh: bool = False,
    allow_shrink: bool = False,
) -> None:
    from engage.warehouse.publish_gate import PublishBlocked

    try:
        summary = run_with_progress(
            config, only_source, rebuild=rebuild, full_refresh=full_refresh, allow_shrink=allow_shrink
        )
    except PublishBlocked as exc:
        raise _publish_blocked(config, "run", exc) from None
    print_summary(summary)
    if summary.skipped:
        console.print(f"{summary.skipped} (`engage run --rebuild` to rebuild anyway)")
    if summary.published:
        console.print(
            f"published: {summary.published.database}, "
            f"{summary.published.parquet_dir}, {summary.published.report}"
        )
        if summary.published.report_files:
            print_report(summary.published.report_files)
    print_kpis(config.marts_path)


FullRefreshOption = Annotated[
    bool,
    typer.Option(
        "--full-refresh",
        help="rebuild every model from the raw tables, incremental ones included (dbt --full-refresh)",
    ),
]
AllowShrinkOption = Annotated[
    bool,
    typer.Option(
        "--allow-shrink",
        help="publish even if a fact table or headline KPI shrinks (a deliberate change)",
    ),
]


@app.command()
def run(
    config: ConfigOption = None,
    source: str | None = None,
    verbose: bool = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="dbt build and publish even when nothing new was loaded")
    ] = False,
    full_refresh: FullRefreshOption = False,
    allow_shrink: AllowShrinkOption = False,
) -> None:
    """Extract every configured stream, load, build the warehouse with dbt and publish the marts.

    dbt rebuilds what the new loads feed (everything after a change to the dbt project). When
    nothing new was loaded and the published version is current, dbt and publish are skipped."""
    _setup_logging(verbose)
    _run(_config(config), source, rebuild=rebuild, full_refresh=full_refresh, allow_shrink=allow_shrink)


def _listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


@app.command()
def demo(config: ConfigOption = None, verbose: bool = False) -> None:
    """The whole pipeline on the embedded default: starts the partner-system simulator if needed."""
    from extractors.source_config import LoginCredentials, TokenCredentials
    from simulator.server import DEMO_CREDENTIALS, start_simulator

    _setup_logging(verbose)
    cfg = _config(config)
    handle = None
    for source in cfg.sources.values():
        demo = DEMO_CREDENTIALS.get(source.kind, {})
        credentials = getattr(source, "credentials", None)
        if isinstance(credentials, TokenCredentials) and "token" in demo:
            os.environ.setdefault(credentials.token_env, demo["token"])
        elif isinstance(credentials, LoginCredentials) and "username" in demo:
            os.environ.setdefault(credentials.username_env, demo["username"])
            os.environ.setdefault(credentials.password_env, demo["password"])
        url = urlsplit(source.location)
        local = url.hostname in {"127.0.0.1", "localhost"}
        if handle is None and local and not _listening(url.hostname, url.port or 80):
            console.print(f"starting the partner-system simulator on {url.hostname}:{url.port}")
            handle = start_simulator(host=url.hostname, port=url.port or 80)
        if source.kind == "registry" and not any(p.is_file() for p in Path(source.inbox).glob("*")):
            from simulator.registry_files import write_inbox

            console.print(f"writing the demo registry files into {source.inbox}")
            write_inbox(Path(source.inbox))
    try:
        started = time.monotonic()
        _run(cfg, None)
        console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    finally:
        if handle is not None:
            handle.stop()
    from simulator.pretix_data import generate

    people = [p for o in generate().orders for p in [o.person, *(x.person for x in o.positions)]]
    secrets = {v for creds in DEMO_CREDENTIALS.values() for v in creds.values()}
    _privacy_scan(cfg, {p.full_name for p in people}, secrets)


def _privacy_scan(cfg: PipelineConfig, names: set[str], secrets: set[str]) -> None:
    """The demo ends with `engage scan` over its data, looking for the simulator's people by name."""
    from engage.privacy.scan import scan

    findings = scan(cfg, names=names, secrets=secrets)
    for finding in findings[:20]:
        console.print(
            f"{finding.kind}: {finding.excerpt} in {finding.place}", highlight=False, soft_wrap=True
        )
    if findings:
        console.print(f"[bold red]privacy scan: {len(findings)} finding(s)[/]")
        raise typer.Exit(1)
    console.print("privacy scan: no email, name or secret in the data or the logs")


@app.command()
def extract(
    config: ConfigOption = None,
    source: Annotated[str | None, typer.Option(help="only this source instance")] = None,
    stream: Annotated[str | None, typer.Option(help="only this stream")] = None,
    since: Annotated[str | None, typer.Option(help="backfill: from this ISO time (inclusive)")] = None,
    until: Annotated[str | None, typer.Option(help="backfill: up to this ISO time (exclusive)")] = None,
) -> None:
    """Land what changed in each configured stream (never opens the warehouse).

    With --since/--until, streams with a time cursor land exactly that window (a backfill), and
    the committed cursors stay where they are.
    """
    from engage.extract import extract_stream
    from extractors.streams import Window

    cfg = _config(config)
    window = Window(since, until) if since or until else None
    for source_name, stream_name in configured_streams(cfg, source):
        if stream in (None, stream_name):
            result = extract_stream(cfg, source_name, stream_name, window=window)
            console.print(f"{source_name}/{stream_name}: {result.records:,} records {result.note}")


@app.command()
def load(config: ConfigOption = None) -> None:
    """Load every committed landing batch the warehouse has not seen yet."""
    from engage.warehouse.loader import load_pending

    for result in load_pending(_config(config)):
        console.print(
            f"{result.source_instance}/{result.stream} {result.batch_id}: "
            f"{result.loaded:,} loaded, {result.quarantined:,} quarantined"
        )


@app.command()
def transform(config: ConfigOption = None, full_refresh: FullRefreshOption = False) -> None:
    """dbt build (seeds, models, tests) of what was loaded since the last build, on the working
    warehouse (everything after a change to the dbt project)."""
    from engage.pipeline import transform as transform_warehouse  # a failure names unmapped forms

    nodes = transform_warehouse(_config(config), full_refresh=full_refresh)
    if not nodes:
        console.print("dbt build: nothing to build, every load is in the last build")
        return
    console.print(f"dbt build: {len(nodes)} nodes succeeded or passed")


@app.command(name="publish")
def publish_command(config: ConfigOption = None, allow_shrink: AllowShrinkOption = False) -> None:
    """Replace the analysts' read-only database, Parquet files and report atomically.

    Held back (exit 1, an alert) when a fact table or headline KPI would shrink, unless --allow-shrink."""
    from engage.warehouse.dbt import generate_docs
    from engage.warehouse.publish import publish
    from engage.warehouse.publish_gate import PublishBlocked

    cfg = _config(config)
    try:
        result = publish(cfg, docs_page=generate_docs(cfg), allow_shrink=allow_shrink)
    except PublishBlocked as exc:
        raise _publish_blocked(cfg, "publish", exc) from None
    console.print(f"published {len(result.tables)} tables to {result.database}")


@app.command()
def report(
    config: ConfigOption = None,
    pdf: Annotated[bool, typer.Option(help="also write report.pdf")] = True,
) -> None:
    """(Re)build report.md, report.html and report.pdf from the published copy alone."""
    from engage.report.build import build_report, record_published
    from engage.warehouse.writer_slot import writer_slot

    cfg = _config(config)
    if not cfg.marts_path.exists():
        console.print(f"[bold red]no published copy[/] at {cfg.marts_path}: run `engage publish` first")
        raise typer.Exit(1)
    with writer_slot(cfg.warehouse_path):  # a publish swapping versions meanwhile would race it
        files = build_report(cfg.marts_path, cfg.published_dir, pdf=pdf)
        record_published(cfg.marts_path, cfg.published_dir)
    print_report(files)


@app.command()
def kpis(config: ConfigOption = None) -> None:
    """Print the KPI table from the published database."""
    print_kpis(_config(config).marts_path)


@app.command()
def maintain(
    config: ConfigOption = None,
    retention: Annotated[bool, typer.Option(help="delete old, loaded landing batches")] = True,
    checkpoint: Annotated[bool, typer.Option(help="VACUUM ANALYZE and CHECKPOINT the warehouse")] = True,
    check: Annotated[bool, typer.Option(help="check the published copy against the warehouse")] = True,
    dry_run: Annotated[bool, typer.Option(help="retention: report what would go, delete nothing")] = False,
) -> None:
    """Housekeeping (what the engage_maintenance DAG runs): landing retention, warehouse
    checkpoint, published copy check. Exits 1 when the published copy is not sound."""
    from engage.maintenance.checkpoint import checkpoint_warehouse
    from engage.maintenance.published_check import PublishedCopyError, check_published
    from engage.maintenance.retention import apply_retention

    cfg = _config(config)
    if retention:
        kept = apply_retention(cfg, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        console.print(
            f"retention: {verb} {len(kept.deleted):,} batches ({kept.deleted_bytes:,} bytes) and "
            f"{len(kept.orphans):,} uncommitted folders ({kept.orphan_bytes:,} bytes); kept "
            f"{kept.kept_state:,} old batches holding stream state, {kept.kept_unloaded:,} not yet loaded"
        )
    if checkpoint:
        sizes = checkpoint_warehouse(cfg)
        console.print(
            f"warehouse: {sizes.size_before:,} -> {sizes.size_after:,} bytes "
            f"(WAL {sizes.wal_before:,} -> {sizes.wal_after:,})"
        )
    if check:
        try:
            published = check_published(cfg)
        except PublishedCopyError as exc:
            console.print(f"[bold red]published copy check failed[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        console.print(f"published copy: version {published.version}, {len(published.tables)} tables match")


@app.command(name="check-config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the configuration file and list the source instances and streams."""
    cfg = _config(config)
    for name, source in cfg.sources.items():
        console.print(f"{name}: {source.kind} at {source.location} streams={','.join(source.streams)}")


@app.command()
def webhooks(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="listen address (default: webhooks.host)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (default: webhooks.port)")] = None,
    refresh: Annotated[
        str,
        typer.Option(help="after a push lands: airflow (asset event), in-process (load, dbt, publish), none"),
    ] = "auto",
    airflow_api_url: Annotated[
        str | None, typer.Option(help="Airflow api-server root (default: webhooks.airflow_api_url)")
    ] = None,
    verbose: bool = False,
) -> None:
    """Receive partner pushes (pretix webhooks, KoboToolbox REST Services) and land them.

    `auto`: the Airflow asset event when webhooks.airflow_api_url is set, else an in-process refresh.
    """
    from engage.orchestration.asset_events import (
        AirflowAssetEvents,
        BackgroundRefresh,
        default_hook,
        refresh_in_process,
    )
    from engage.webhooks.receiver import make_receiver

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    cfg = _config(config)
    if airflow_api_url:
        settings = {**cfg.webhooks.model_dump(), "airflow_api_url": airflow_api_url}
        cfg = cfg.model_copy(update={"webhooks": cfg.webhooks.model_validate(settings)})
    hooks = {
        "auto": lambda: default_hook(cfg),
        "airflow": lambda: AirflowAssetEvents.from_config(cfg),
        "in-process": lambda: BackgroundRefresh(refresh_in_process),
        "none": lambda: None,
    }
    if refresh not in hooks:
        raise typer.BadParameter(f"--refresh must be one of {', '.join(hooks)}")
    server = make_receiver(cfg, hooks[refresh](), host, port)
    bound_host, bound_port = server.server_address[:2]
    console.print(f"engage webhooks: listening on http://{bound_host}:{bound_port}/webhooks/<kind>/<source>")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("engage webhooks: stopping")
    finally:
        server.server_close()


@app.command()
def erase(
    email: Annotated[str, typer.Option(help="the person's email address (as the partner systems hold it)")],
    name: Annotated[
        str | None, typer.Option(help="also their full name (beware: other people may share it)")
    ] = None,
    config: ConfigOption = None,
    suppress: Annotated[
        bool, typer.Option(help="drop the person at later extractions too (suppression list)")
    ] = True,
) -> None:
    """Erase one person: landing zone, raw tables, quarantine, marts and the published copy.

    See docs/privacy.md. The email is used to compute the pseudonym and is neither stored nor logged.
    """
    from engage.privacy.erasure import erase_person
    from engage.privacy.pseudonymise import MissingKeyError

    cfg = _config(config)
    try:
        summary = erase_person(cfg, email, name, suppress=suppress)
    except MissingKeyError as exc:
        console.print(f"[bold red]no pseudonymisation key[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    console.print(
        f"erasure {summary.erasure_id}: {summary.landing_batches_rewritten} landing batches rewritten "
        f"({summary.landing_records_removed} records removed, {summary.landing_records_changed} changed), "
        f"{summary.raw_rows_removed} raw rows removed ({summary.raw_rows_changed} changed), "
        f"{summary.quarantine_rows_removed} quarantined lines removed; "
        f"published version {summary.published_version}"
    )
    if summary.total_removed == 0:
        console.print("nothing held about this person (already erased, or never extracted)")


@app.command(name="scan")
def scan_command(
    config: ConfigOption = None,
    names_file: Annotated[
        Path | None, typer.Option(help="a text file of people's names to look for, one a line")
    ] = None,
) -> None:
    """Look for emails, listed names and secrets in landing, warehouse, published copy and logs.

    Exits 1 when anything is found."""
    from engage.privacy.scan import scan

    cfg = _config(config)
    names = names_file.read_text(encoding="utf-8").splitlines() if names_file else []
    findings = scan(cfg, names=names)
    for finding in findings[:50]:
        console.print(
            f"{finding.kind}: {finding.excerpt} in {finding.place}", highlight=False, soft_wrap=True
        )
    if findings:
        console.print(f"[bold red]{len(findings)} finding(s)[/]")
        raise typer.Exit(1)
    console.print("scan: no email, listed name or secret found")


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except Exception as exc:  # a clear one-line error for operators; details with --verbose logs
        console.print(f"[bold red]error[/] {exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
