#!/usr/bin/env bash
# The distributed path, natively (no Docker): Airflow 3 with the CeleryExecutor, PostgreSQL and
# Redis from Debian packages, api-server, scheduler, dag-processor, triggerer and TWO celery
# workers, against the partner-system simulator. Triggers engage_extract_pretix_demo, waits for
# engage_warehouse (triggered by the landed-stream assets) to succeed, checks the published marts
# and prints which worker ran which tasks. Everything listens on 127.0.0.1, lives in a temp dir and
# is stopped on exit. docs/smoke-celery.md says more; `make smoke-celery` runs it.
#
# Environment knobs: SMOKE_TIMEOUT (s, the wait for the warehouse run, default 1200),
# SMOKE_KEEP=1 (keep the temp dir after a success; it is always kept after a failure),
# SMOKE_WORKER_CONCURRENCY (per worker, default 4).
set -Eeuo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SMOKE_TIMEOUT="${SMOKE_TIMEOUT:-1200}"
CONCURRENCY="${SMOKE_WORKER_CONCURRENCY:-4}"
START_EPOCH=$(date +%s)
EXTRACT_DAG=engage_extract_pretix_demo
WAREHOUSE_DAG=engage_warehouse

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[%s] smoke-celery: FAILED: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

# --- processes and cleanup -----------------------------------------------------------------------
declare -a PIDS=() NAMES=()
PG_STARTED=0
RESULT="failed"
SMOKE_TMP=""

as_pg() {  # PostgreSQL refuses to run as root: its cluster belongs to the postgres user then.
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [[ -n "${FG_PID:-}" ]] && kill "$FG_PID" 2>/dev/null
  if ((${#PIDS[@]})); then
    say "stopping ${#PIDS[@]} processes"
    local i
    # Reverse order: workers and Airflow first, the simulator, Redis last. Each was started in a
    # process group of its own (setsid), so its children (celery pool, gunicorn/uvicorn, task
    # supervisors) get the signal too.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
      kill -TERM -- "-${PIDS[i]}" 2>/dev/null || kill -TERM "${PIDS[i]}" 2>/dev/null
    done
    local deadline=$((SECONDS + 45))
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
      while kill -0 -- "-${PIDS[i]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
      if kill -0 -- "-${PIDS[i]}" 2>/dev/null; then
        say "  ${NAMES[i]} (pgid ${PIDS[i]}) still running after 45 s: SIGKILL"
        kill -KILL -- "-${PIDS[i]}" 2>/dev/null
      fi
    done
  fi
  if ((PG_STARTED)); then
    as_pg "$PG_BIN/pg_ctl" -D "$SMOKE_TMP/pg/data" -m fast -w -t 60 stop >/dev/null 2>&1 \
      && say "stopped PostgreSQL" || say "WARNING: pg_ctl stop failed (see $SMOKE_TMP/logs/postgres.log)"
  fi
  local wall=$(($(date +%s) - START_EPOCH))
  echo
  echo "==================== smoke-celery summary ===================="
  printf 'result:     %s (exit %s)\n' "$RESULT" "$rc"
  printf 'wall time:  %dm%02ds\n' $((wall / 60)) $((wall % 60))
  printf 'python env: %s\n' "${ENV_NOTE:-not checked}"
  if ((${#NAMES[@]})) || ((PG_STARTED)); then
    printf 'started:    %s\n' "$( ((PG_STARTED)) && printf 'postgres ')${NAMES[*]}"
  fi
  if [[ -n "$SMOKE_TMP" ]]; then
    if [[ "$RESULT" == "success" && "${SMOKE_KEEP:-0}" != "1" ]]; then
      rm -rf "$SMOKE_TMP"
      printf 'temp dir:   removed (SMOKE_KEEP=1 keeps it)\n'
    else
      printf 'temp dir:   %s (logs in logs/)\n' "$SMOKE_TMP"
    fi
  fi
  echo "==============================================================="
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {  # start NAME CMD...: in its own session/process group, output to logs/NAME.log
  local name=$1
  shift
  setsid "$@" >"$SMOKE_TMP/logs/$name.log" 2>&1 </dev/null &
  PIDS+=("$!")
  NAMES+=("$name")
  say "started $name (pid $!, log logs/$name.log)"
}

assert_alive() {  # fail early, with its log, when a started process died
  local i
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
      tail -n 40 "$SMOKE_TMP/logs/${NAMES[i]}.log" >&2 || true
      die "${NAMES[i]} exited (log: $SMOKE_TMP/logs/${NAMES[i]}.log)"
    fi
  done
}

FG_PID=""
fg() {  # a long step in the background + wait: a TERM/INT to this script is handled at once
  "$@" &
  FG_PID=$!
  local rc=0
  wait "$FG_PID" || rc=$?
  FG_PID=""
  return "$rc"
}

wait_for() {  # wait_for TIMEOUT WHAT CMD...: poll CMD every second
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    assert_alive
    ((SECONDS < deadline)) || die "$what not ready within ${timeout} s"
    sleep 1
  done
  say "$what ready"
}

free_ports() {  # N distinct free TCP ports on 127.0.0.1
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# --- 0. prerequisites ----------------------------------------------------------------------------
find_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
PG_BIN="$(find_pg_bin)"
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]] || ! command -v redis-server >/dev/null; then
  [[ $EUID -eq 0 ]] || die "PostgreSQL or Redis missing: sudo apt-get install -y postgresql redis-server"
  say "installing postgresql and redis-server from Debian (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
  PG_BIN="$(find_pg_bin)"
fi
[[ -x "$PG_BIN/initdb" ]] || die "no initdb under /usr/lib/postgresql/*/bin"
command -v redis-server >/dev/null || die "no redis-server"

# --- 1. temp dir, ports, PostgreSQL and Redis ----------------------------------------------------
SMOKE_TMP="$(mktemp -d /tmp/smoke-celery.XXXXXX)"
chmod 755 "$SMOKE_TMP"  # the postgres user must reach its data dir
mkdir -p "$SMOKE_TMP"/{logs,pg,redis,data,airflow}
[[ $EUID -eq 0 ]] && chown postgres: "$SMOKE_TMP/pg" && chown postgres: "$SMOKE_TMP/logs" && chmod 777 "$SMOKE_TMP/logs"
read -r PG_PORT REDIS_PORT API_PORT SIM_PORT TRIGGER_LOG_PORT <<<"$(free_ports 5)"
say "temp dir $SMOKE_TMP; ports: postgres $PG_PORT, redis $REDIS_PORT, api-server $API_PORT, simulator $SIM_PORT"

# The Python environment: a private copy of the locked one (uv sync --frozen --extra deploy into the
# temp dir; uv links from its cache, about a second). Other jobs in this checkout may re-sync the
# shared .venv without the deploy extra (`make env`), which removes celery under running workers.
#
# Can the locked environment load the CeleryExecutor? apache-airflow-providers-celery 3.26.0
# imports `retry` from celery.backends.database, which celery 5.7.0 removed: with the lock as it is
# (celery 5.7.0) the scheduler and the workers die at start. Unless SMOKE_STRICT_LOCK=1, the run
# then goes on with celery<5.7 in the private copy (the only difference from the lock), and the
# summary says so. The fix belongs in pyproject.toml / uv.lock.
say "python environment: uv sync --frozen --extra deploy --no-dev into $SMOKE_TMP/venv"
(cd "$REPO" && UV_PROJECT_ENVIRONMENT="$SMOKE_TMP/venv" scripts/uv sync --frozen --extra deploy --no-dev --compile-bytecode) \
  >"$SMOKE_TMP/logs/venv.log" 2>&1 || die "uv sync into $SMOKE_TMP/venv failed (logs/venv.log)"
VENV_BIN="$SMOKE_TMP/venv/bin"
ENV_NOTE="locked environment (uv.lock), private copy"
celery_import_error() {  # empty when the CeleryExecutor imports, else the exception line
  AIRFLOW_HOME="$SMOKE_TMP/airflow" "$VENV_BIN/python" -c \
    "import airflow.providers.celery.executors.celery_executor" >"$SMOKE_TMP/logs/celery-import.log" 2>&1 \
    || grep -E "^[A-Za-z_.]*(Error|Exception)" "$SMOKE_TMP/logs/celery-import.log" | tail -n 1 | grep . \
    || echo "import failed (logs/celery-import.log)"
}
REASON="$(celery_import_error)"
if [[ -n "$REASON" ]]; then
  CELERY_LOCKED="$("$VENV_BIN/python" -c 'import celery; print(celery.__version__)')"
  PROVIDER="$("$VENV_BIN/python" -c 'from importlib.metadata import version; print(version("apache-airflow-providers-celery"))')"
  say "WARNING: the locked environment cannot load the CeleryExecutor:"
  say "  apache-airflow-providers-celery $PROVIDER with celery $CELERY_LOCKED: $REASON"
  [[ "${SMOKE_STRICT_LOCK:-0}" == "1" ]] && die "CeleryExecutor unusable with the locked celery $CELERY_LOCKED (SMOKE_STRICT_LOCK=1)"
  say "  continuing with celery<5.7 in the private copy (uv pip install 'celery[redis]>=5.5,<5.7')"
  (cd "$REPO" && scripts/uv pip install --python "$VENV_BIN/python" "celery[redis]>=5.5,<5.7") \
    >>"$SMOKE_TMP/logs/venv.log" 2>&1 || die "could not install celery<5.7 (logs/venv.log)"
  REASON="$(celery_import_error)"
  [[ -z "$REASON" ]] || die "the CeleryExecutor does not load with celery<5.7 either: $REASON"
  ENV_NOTE="uv.lock except celery $("$VENV_BIN/python" -c 'import celery; print(celery.__version__)') instead of $CELERY_LOCKED (provider $PROVIDER imports celery.backends.database.retry, gone in 5.7)"
fi
say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2), Airflow $(AIRFLOW_HOME="$SMOKE_TMP/airflow" "$VENV_BIN/airflow" version 2>/dev/null), celery $("$VENV_BIN/python" -c 'import celery; print(celery.__version__)')"

PG_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
as_pg "$PG_BIN/initdb" -D "$SMOKE_TMP/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --no-locale >"$SMOKE_TMP/logs/initdb.log" 2>&1 || die "initdb failed (logs/initdb.log)"
mkdir -p "$SMOKE_TMP/pg/sock" && [[ $EUID -eq 0 ]] && chown postgres: "$SMOKE_TMP/pg/sock"
as_pg "$PG_BIN/pg_ctl" -D "$SMOKE_TMP/pg/data" -l "$SMOKE_TMP/logs/postgres.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SMOKE_TMP/pg/sock -c max_connections=200" start >/dev/null \
  || die "PostgreSQL did not start within 60 s (logs/postgres.log)"
PG_STARTED=1
say "PostgreSQL up on 127.0.0.1:$PG_PORT"
psql_admin() { as_pg psql -v ON_ERROR_STOP=1 -q -h "$SMOKE_TMP/pg/sock" -p "$PG_PORT" -U postgres "$@"; }
psql_admin -d postgres -c "CREATE ROLE airflow LOGIN PASSWORD '$PG_PASSWORD'" \
  -c "CREATE DATABASE airflow OWNER airflow" >/dev/null || die "could not create the airflow database"

start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$SMOKE_TMP/redis" \
  --save "" --appendonly no --daemonize no --protected-mode yes
wait_for 30 "Redis on 127.0.0.1:$REDIS_PORT" bash -c "[[ \$(redis-cli -h 127.0.0.1 -p $REDIS_PORT ping) == PONG ]]"

# --- 2. Airflow and pipeline environment ---------------------------------------------------------
ADMIN_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
printf '{"admin": "%s"}\n' "$ADMIN_PASSWORD" >"$SMOKE_TMP/airflow/simple_auth_manager_passwords.json"
chmod 600 "$SMOKE_TMP/airflow/simple_auth_manager_passwords.json"
# The workers' hostname_callable: both run on this machine, so each task instance records
# "<fqdn>-<worker name>" and the summary can tell the workers apart.
mkdir -p "$SMOKE_TMP/pylib"
cat >"$SMOKE_TMP/pylib/smoke_celery_hostname.py" <<'PY'
import os
import socket


def hostname() -> str:
    return f"{socket.getfqdn()}-{os.environ.get('SMOKE_WORKER_NAME', 'airflow')}"
PY

export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
export PATH="$VENV_BIN:$PATH"
export AIRFLOW_HOME="$SMOKE_TMP/airflow"
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__CORE__FERNET_KEY="$("$VENV_BIN/python" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$SMOKE_TMP/airflow/simple_auth_manager_passwords.json"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$API_PORT/execution/"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://airflow:$PG_PASSWORD@127.0.0.1:$PG_PORT/airflow"
export AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql://airflow:$PG_PASSWORD@127.0.0.1:$PG_PORT/airflow"
export AIRFLOW__CELERY__WORKER_CONCURRENCY="$CONCURRENCY"
export AIRFLOW__API_AUTH__JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
export AIRFLOW__API_AUTH__JWT_ISSUER=engage-smoke
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$API_PORT"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$API_PORT/"
export AIRFLOW__API__WORKERS=1
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$TRIGGER_LOG_PORT"
export AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
export ENGAGE_CONFIG="$SMOKE_TMP/pipeline.yml"
export ENGAGE_PRETIX_DEMO_TOKEN=demo-pretix-token  # the simulator's public demo credential
export SMOKE_API_URL="http://127.0.0.1:$API_PORT" SMOKE_ADMIN_USER=admin SMOKE_ADMIN_PASSWORD="$ADMIN_PASSWORD"
CHECK=("$VENV_BIN/python" "$REPO/scripts/smoke_celery_check.py")

"${CHECK[@]}" config "$REPO/config/pipeline.yml" "$ENGAGE_CONFIG" "$SIM_PORT" "$SMOKE_TMP/data"
"$VENV_BIN/engage" check-config >"$SMOKE_TMP/logs/check-config.log" 2>&1 \
  || { cat "$SMOKE_TMP/logs/check-config.log" >&2; die "engage check-config rejected $ENGAGE_CONFIG"; }
say "pipeline config: $ENGAGE_CONFIG (pretix_demo only, data in $SMOKE_TMP/data)"

# `make manifest`, without make's plain `uv sync` (it would drop the deploy extra from .venv).
say "dbt manifest (make manifest: dbt parse)"
(cd "$REPO" && ENGAGE_WAREHOUSE_PATH="$REPO/data/warehouse.duckdb" \
  "$VENV_BIN/dbt" parse --project-dir dbt_project --profiles-dir dbt_project --quiet) \
  >"$SMOKE_TMP/logs/dbt-parse.log" 2>&1 || die "dbt parse failed (logs/dbt-parse.log)"

# --- 3. metadata database, pool, services --------------------------------------------------------
say "airflow db migrate"
airflow db migrate >"$SMOKE_TMP/logs/db-migrate.log" 2>&1 || die "airflow db migrate failed (logs/db-migrate.log)"
airflow pools set engage_writer 1 "One DuckDB writer: load, dbt nodes and publish never overlap" \
  >"$SMOKE_TMP/logs/pool.log" 2>&1 || die "airflow pools set failed (logs/pool.log)"
say "metadata database migrated, pool engage_writer (1 slot) created"

start simulator engage-simulator --host 127.0.0.1 --port "$SIM_PORT"
start api-server airflow api-server --host 127.0.0.1 --port "$API_PORT" --workers 1
start scheduler airflow scheduler
start dag-processor airflow dag-processor
start triggerer airflow triggerer
for n in 1 2; do
  start "worker$n" env SMOKE_WORKER_NAME="worker$n" PYTHONPATH="$SMOKE_TMP/pylib${PYTHONPATH:+:$PYTHONPATH}" \
    AIRFLOW__CORE__HOSTNAME_CALLABLE=smoke_celery_hostname.hostname \
    airflow celery worker --celery-hostname "worker$n@smoke-celery" --concurrency "$CONCURRENCY" --skip-serve-logs
done

wait_for 60 "simulator on 127.0.0.1:$SIM_PORT" \
  "$VENV_BIN/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$SIM_PORT/_sim/health', timeout=3)"
assert_alive
fg "${CHECK[@]}" wait-api 120 || { assert_alive; die "api-server (logs/api-server.log)"; }
for n in 1 2; do
  wait_for 120 "celery worker$n" celery --app airflow.providers.celery.executors.celery_executor.app \
    inspect ping -d "worker$n@smoke-celery" --timeout 5
done

# --- 4. DAGs, trigger, wait, check ---------------------------------------------------------------
fg "${CHECK[@]}" wait-dags 240 "$EXTRACT_DAG" "$WAREHOUSE_DAG" || { assert_alive; die "DAG parsing"; }
assert_alive
fg "${CHECK[@]}" run "$SMOKE_TIMEOUT" "$EXTRACT_DAG" "$WAREHOUSE_DAG" \
  || { assert_alive; die "the DAG runs (above; task logs in $AIRFLOW_HOME/logs)"; }
fg "${CHECK[@]}" check "$SMOKE_TMP/data/marts.duckdb" || die "the published marts"
RESULT="success"
