"""The deployment files (Dockerfile, docker-compose.yml, .env.example, config/pipeline.docker.yml) are
wired together: parsed and cross-checked here, since no Docker engine runs the tests."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from engage.config import PROJECT_ROOT, load_config

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKER_CONFIG = PROJECT_ROOT / "config" / "pipeline.docker.yml"
LOCAL_CONFIG = PROJECT_ROOT / "config" / "pipeline.yml"

AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "flower",
]
REQUIRED_SERVICES = {"postgres", "redis", "simulator", *AIRFLOW_SERVICES}
# Settings every Airflow component must agree on, or tasks fail (JWT signatures, executor, queues).
SHARED_SETTINGS = [
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY",
    "ENGAGE_CONFIG",
]
# Services whose tasks or parsing touch the pipeline's data.
DATA_SERVICES = ["airflow-scheduler", "airflow-worker", "airflow-dag-processor"]
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|_KEY)$")
# ${NAME}, ${NAME:-default}, ${NAME:?error}, ... but not $${...} (a literal $ for the container shell).
VAR_REFERENCE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?[^}]*\}")


def _compose_text() -> str:
    """The compose file without its comment lines (compose interpolates no comment)."""
    lines = COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def _url(value: str):
    """A URL holding ${VAR} references, parsed as it will be once they are substituted."""
    return urlsplit(VAR_REFERENCE.sub("VAR", value))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def docker_config():
    return load_config(DOCKER_CONFIG)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the `- KEY=value` form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> volume name, for the short `volume:/path[:mode]` syntax."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        mounts[target] = source
    return mounts


def _writer_pool() -> str:
    """WRITER_POOL from engage/orchestration/dag_factory.py, read without importing Airflow."""
    tree = ast.parse(
        (PROJECT_ROOT / "engage" / "orchestration" / "dag_factory.py").read_text(encoding="utf-8")
    )
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "WRITER_POOL" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("WRITER_POOL not found in engage/orchestration/dag_factory.py")


def test_compose_has_the_official_celery_layout_and_the_demo_services(services):
    assert services.keys() >= REQUIRED_SERVICES, REQUIRED_SERVICES - services.keys()
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    commands = {
        name: " ".join(services[name]["command"]) for name in AIRFLOW_SERVICES if name != "airflow-init"
    }
    assert commands == {
        "airflow-apiserver": "airflow api-server",
        "airflow-scheduler": "airflow scheduler",
        "airflow-dag-processor": "airflow dag-processor",
        "airflow-triggerer": "airflow triggerer",
        "airflow-worker": "airflow celery worker",
        "flower": "airflow celery flower",
    }
    # `--scale airflow-worker=N` needs a worker without a fixed name or host port.
    assert "container_name" not in services["airflow-worker"]
    assert "ports" not in services["airflow-worker"]
    assert services["flower"]["profiles"] == ["flower"]


def test_every_airflow_service_runs_the_project_image(compose, services):
    image = compose["x-engage-image"]["image"]
    for name in [*AIRFLOW_SERVICES, "simulator"]:
        service = services[name]
        assert service["image"] == image, name
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert not str(service.get("user", "")).startswith(("0", "root")), f"{name} runs as root"


def test_airflow_services_share_secret_executor_database_and_broker(compose, services):
    common = _environment(compose["x-airflow-common"])
    assert set(SHARED_SETTINGS) <= common.keys(), set(SHARED_SETTINGS) - common.keys()
    assert common["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name in AIRFLOW_SERVICES:
        env = _environment(services[name])
        assert {key: env.get(key) for key in SHARED_SETTINGS} == {k: common[k] for k in SHARED_SETTINGS}, name
    assert _url(common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres"
    assert _url(common["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname == "postgres"
    assert _url(common["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    execution_api = _url(common["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    published = {port.split(":")[-1] for port in services["airflow-apiserver"]["ports"]}
    assert execution_api.hostname == "airflow-apiserver"
    assert str(execution_api.port) in published
    assert execution_api.path == "/execution/"


def test_services_wait_for_healthy_dependencies(services):
    healthy = {"condition": "service_healthy"}
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"] == healthy, name
        assert depends["redis"] == healthy, name
        if name != "airflow-init":
            assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == healthy


def test_health_checks(services):
    for name in [
        "postgres",
        "redis",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-worker",
        "simulator",
    ]:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    apiserver_check = " ".join(services["airflow-apiserver"]["healthcheck"]["test"])
    assert "localhost:8080/api/v2/monitor/health" in apiserver_check
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "/_sim/health" in " ".join(services["simulator"]["healthcheck"]["test"])


def test_data_volumes_are_mounted_where_the_container_config_points(compose, services, docker_config):
    registry_inboxes = [Path(s.inbox) for s in docker_config.sources.values() if s.kind == "registry"]
    folders = {
        "landing": docker_config.landing_dir,
        "warehouse": docker_config.warehouse_path.parent,
        "marts": docker_config.marts_path.parent,
        "published": docker_config.published_dir,
        **{f"inbox {path}": path for path in registry_inboxes},
    }
    reference = _mounts(services[DATA_SERVICES[0]])
    for name in DATA_SERVICES:
        mounts = _mounts(services[name])
        for what, folder in folders.items():
            target = str(folder)
            assert target in mounts, f"{name} does not mount the {what} folder {target}"
            assert mounts[target] in compose["volumes"], f"{name}: {target} is not a named volume"
            # One warehouse, one landing zone: every worker must see the same files.
            assert mounts[target] == reference[target], f"{name} mounts another volume at {target}"


def test_init_creates_the_writer_pool_and_migrates(services):
    script = " ".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in script
    assert re.search(rf"airflow pools set {re.escape(_writer_pool())} 1 ", script)
    assert "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in script
    assert services["airflow-init"]["environment"]["AIRFLOW_ADMIN_PASSWORD"].startswith("${")


def test_simulator_only_runs_in_the_demo_profile_and_the_config_points_at_it(services, docker_config):
    simulator = services["simulator"]
    assert simulator["profiles"] == ["demo"]
    command = simulator["command"]
    assert command[0] == "engage-simulator"
    port = int(command[command.index("--port") + 1])
    assert command[command.index("--host") + 1] == "0.0.0.0"
    for name, source in docker_config.sources.items():
        if source.kind == "registry":
            continue
        url = urlsplit(str(source.base_url))
        assert (url.hostname, url.port) == ("simulator", port), name
    for name, service in services.items():
        if "simulator" in service.get("depends_on", {}):
            assert "demo" in service.get("profiles", []), f"{name} needs the demo profile to start"
    assert services["demo-inbox"]["profiles"] == ["demo"]


def test_no_secret_is_committed_only_variable_references(compose, services):
    text = _compose_text()
    assert not re.search(r"(?<!\$)\$(?![{$])", text), "use ${VAR} (or $$ for a literal $)"
    for match in VAR_REFERENCE.finditer(text):
        if SECRET_NAME.search(match["name"]):
            assert match["op"] == ":?", f"{match[0]}: a secret is required (:?), never given a default"
    for service_name, service in {**services, "x-airflow-common": compose["x-airflow-common"]}.items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*(:\?[^}]*)?\}", value), (
                    f"{service_name}.{key} = {value!r}: only a required ${{VAR}} reference"
                )
            credentials = re.search(r"://[^:/@]*:(.+)@", value)
            if credentials:
                assert VAR_REFERENCE.fullmatch(credentials[1]), f"{service_name}.{key}: password in the URL"


def test_env_example_lists_every_variable_without_secret_values():
    referenced = {m["name"] for m in VAR_REFERENCE.finditer(_compose_text())}
    example = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    assert referenced, "the compose file references no variable"
    assert referenced <= example.keys(), f"missing from .env.example: {sorted(referenced - example.keys())}"
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value == "", f".env.example: {key} must be left empty for the operator to fill"


def test_worker_gets_every_credential_the_container_config_names(services, docker_config):
    env = _environment(services["airflow-worker"])
    names = {docker_config.privacy.key_env}
    for source in docker_config.sources.values():
        credentials = getattr(source, "credentials", None)
        if credentials is not None:
            names |= {value for key, value in credentials.model_dump().items() if key.endswith("_env")}
    assert names <= env.keys(), f"not passed to the workers: {sorted(names - env.keys())}"
    assert not names & _environment(services["airflow-apiserver"]).keys(), "secrets only on workers"


def test_container_config_has_the_same_sources_as_the_local_one(docker_config):
    local = load_config(LOCAL_CONFIG)
    assert {n: (s.kind, s.streams) for n, s in docker_config.sources.items()} == {
        n: (s.kind, s.streams) for n, s in local.sources.items()
    }
    assert docker_config.privacy.allow_demo_key is False
    assert docker_config.privacy.key_env == local.privacy.key_env
    # ../dbt_project from config/: /opt/engage/dbt_project in the image, where the manifest is built
    assert docker_config.dbt_dir == PROJECT_ROOT / "dbt_project"
    for path in [docker_config.landing_dir, docker_config.warehouse_path, docker_config.published_dir]:
        assert path.is_relative_to("/data"), path


def test_dockerfile_builds_the_locked_environment_and_the_manifest():
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    assert re.search(r"^COPY .*pyproject\.toml uv\.lock", text, re.M)
    syncs = re.findall(r"uv sync ([^\n]*)", text)
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert "dbt parse" in text and "dbt_project/target/manifest.json" in text
    for setting in [
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY=False",
        "AIRFLOW__CORE__LOAD_EXAMPLES=False",
        "AIRFLOW__CORE__DAGS_FOLDER=/opt/engage/dags",
        "ENGAGE_CONFIG=/opt/engage/config/pipeline.yml",
        "PATH=/opt/engage/.venv/bin:$PATH",
    ]:
        assert setting in text, setting
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"0", "root"}, "the image must run as non-root"
    ignored = set(DOCKERIGNORE.read_text(encoding="utf-8").split())
    assert {".venv", "data", ".git", ".env", "dbt_project/target"} <= ignored


def test_the_lock_holds_what_the_compose_stack_needs():
    extras = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"].get(
        "optional-dependencies", {}
    )
    assert "deploy" in extras  # the Dockerfile syncs --extra deploy
    locked = set(
        re.findall(r'^name = "([^"]+)"', (PROJECT_ROOT / "uv.lock").read_text(encoding="utf-8"), re.M)
    )
    assert {"apache-airflow-providers-celery", "redis"} <= locked
    assert locked & {"psycopg2-binary", "psycopg2"}
