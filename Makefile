# Two commands matter: `make demo` (the whole pipeline on the embedded default) and `make test`.
# Both bootstrap their own environment: uv (installed if missing) and the locked virtualenv.
UV := scripts/uv
RUN := $(UV) run --frozen
DBT_MANIFEST := dbt_project/target/manifest.json

.PHONY: demo test lint format bench env manifest simulator clean

env: .venv/.synced
# --compile-bytecode: the .pyc files are written once, here. Where PYTHONDONTWRITEBYTECODE is set
# (as on this machine), every process would otherwise compile dbt, Airflow and WeasyPrint from
# source again: ~10 s of every run, test and task that imports them.
.venv/.synced: uv.lock pyproject.toml
	$(UV) sync --frozen --inexact --compile-bytecode  # --inexact keeps extras another target installed
	@touch $@

manifest: env  ## the dbt manifest the Airflow DAGs render from (no dbt runs at DAG parse time)
	ENGAGE_WAREHOUSE_PATH=$(CURDIR)/data/warehouse.duckdb DBT_SEND_ANONYMOUS_USAGE_STATS=false \
	  $(RUN) dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet

demo: env  ## simulator -> landing -> DuckDB -> dbt -> data/marts.duckdb, Parquet and report
	$(RUN) engage demo

# Two workers (the machine's two cores); each test module stays on one worker (tests/conftest.py).
PYTEST_WORKERS ?= 2
test: env manifest  ## the whole suite: unit, contract, integration, dbt, Airflow DAGs (not the live Airflow)
	$(RUN) pytest -q -n $(PYTEST_WORKERS) --dist loadgroup -m "not live_airflow and not conformance"

.PHONY: live-airflow
live-airflow: env manifest  ## the event path under a live Airflow (api-server, scheduler, dag-processor): ~10+ min
	$(RUN) pytest -q -s -m live_airflow tests/test_live_airflow.py

# The pretix version the conformance run installs from PyPI (docs/conformance.md).
PRETIX_VERSION ?= 2026.8.0
.PHONY: conformance
conformance: env  ## the pipeline against a real pretix $(PRETIX_VERSION) (PyPI, SQLite, runserver): cold ~3 min, warm ~2 min
	PRETIX_VERSION=$(PRETIX_VERSION) $(RUN) python -m tests.conformance.pretix_server prepare
	PRETIX_VERSION=$(PRETIX_VERSION) $(RUN) pytest -q -m conformance tests/conformance/
	@echo "seconds per step (.conformance/run/timings.json):" && cat .conformance/run/timings.json

lint: env
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) sqlfluff lint dbt_project/models

format: env
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

simulator: env  ## the partner-system simulator on 127.0.0.1:8765, in the foreground
	$(RUN) engage-simulator --port 8765

clean:
	rm -rf data dbt_project/target dbt_project/logs

bench: env manifest  ## figures -> bench/results/: loading, extraction, landed rows, live Airflow vs CLI, report, scale
	$(UV) sync --frozen --inexact --compile-bytecode --group bench  # dlt, the loader bench's third contender (bench only)
	$(RUN) python bench/bench_load.py
	$(RUN) python bench/bench_extract.py  # our extractor vs a bare requests + json loop -> bench/results/extract.json
	$(RUN) python bench/bench_landed_rows.py  # pretix daily rows: check-in snapshot vs order feed
	$(RUN) python bench/bench_airflow.py
	$(RUN) python bench/bench_report.py
	$(RUN) python bench/bench_scale.py --scales 1,10  # the pipeline on 1x and 10x the programme (simulator --scale): full, no-change, 1 %-change runs -> bench/results/scale.json (~15 min; --scales 1 for a quick look)
	$(RUN) python bench/bench_table.py  # every figure beside its anchor and target -> bench/results/README.md

.PHONY: bench-100x
bench-100x: env manifest  ## 100x the programme (~2.2M records): full, no-change and 1 %-change runs -> bench/results/scale_100x.json (35-40 min here: 3 min to generate, 8-12 min to extract 1.7M orders, 3-6 min of dbt, 5 min to change 1 % of the orders through the simulator)
	$(RUN) python bench/bench_scale.py --scales 100 --out bench/results/scale_100x.json
	$(RUN) python bench/bench_table.py

.PHONY: reliability
reliability: env  ## full size: 30 % faults on every stream, SIGKILL at every point, readers during refreshes
	ENGAGE_RELIABILITY_FULL=1 $(RUN) pytest -q -s tests/test_faults.py tests/test_crash_safety.py \
	  tests/test_concurrent_readers.py

.PHONY: smoke-celery
smoke-celery:  ## native distributed smoke run: Celery (2 workers), PostgreSQL, Redis, simulator (docs/smoke-celery.md)
	$(UV) sync --frozen --compile-bytecode --extra deploy
	scripts/smoke_celery.sh
