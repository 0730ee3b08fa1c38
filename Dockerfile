# The engage project image: the locked environment (uv.lock) plus the project, with the dbt manifest
# built in, so parsing a DAG file runs no dbt. One image for every Airflow component (api-server,
# scheduler, dag-processor, triggerer, celery worker, init) and for the demo partner-system simulator.
# See docs/deployment.md and docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/engage/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/opt/engage/.venv/bin:$PATH

# Non-root like Airflow's own image: uid 50000, gid 0 (files group-writable, so any uid in group 0 works).
RUN useradd --uid 50000 --gid 0 --create-home --home-dir /home/airflow --shell /bin/bash airflow \
    && mkdir -p /opt/engage /opt/airflow/logs /opt/airflow/auth \
       /data/landing /data/inbox /data/warehouse /data/published \
    && chown -R 50000:0 /opt/engage /opt/airflow /data \
    && chmod -R g=u /opt/engage /opt/airflow /data

# The report's PDF engine (WeasyPrint) draws text with Pango; the fonts are the report's own stack.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /opt/engage
USER 50000:0

# 1. The dependencies, exactly as locked (a layer that changes only with uv.lock / pyproject.toml).
#    The `deploy` extra adds what the CeleryExecutor + Postgres layout of docker-compose.yml needs
#    (celery provider, redis client, psycopg2); it must be declared in pyproject.toml and locked.
COPY --chown=50000:0 pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --extra deploy --no-install-project --no-cache --compile-bytecode

# 2. The project itself (not editable: the image never sees the source tree again).
COPY --chown=50000:0 . .
RUN uv sync --frozen --no-dev --extra deploy --no-editable --no-cache --compile-bytecode

# 3. The dbt manifest Cosmos renders the warehouse DAG from (LoadMode.DBT_MANIFEST): `dbt parse`
#    needs the profile's variable set but never opens the file, so a dummy path will do.
RUN ENGAGE_WAREHOUSE_PATH=/tmp/dbt-parse/warehouse.duckdb DBT_SEND_ANONYMOUS_USAGE_STATS=false \
      dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet \
    && test -s dbt_project/target/manifest.json \
    && rm -rf dbt_project/logs /tmp/dbt-parse

ENV AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/engage/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    ENGAGE_CONFIG=/opt/engage/config/pipeline.yml

# /data/* exist in the image owned by 50000:0, so the named volumes docker-compose.yml mounts there
# start with that ownership (no VOLUME here: services without data, e.g. the simulator, get none).
CMD ["airflow", "version"]
