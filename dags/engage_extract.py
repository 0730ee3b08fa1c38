"""Airflow: one extract DAG per source instance in config/pipeline.yml (a new entry, a new DAG)."""

from engage.orchestration.dag_factory import build_extract_dags

globals().update(build_extract_dags())
