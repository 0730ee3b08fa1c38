"""Airflow: load -> dbt (Cosmos) -> publish, scheduled on the landed-stream assets."""

from engage.orchestration.dag_factory import build_warehouse_dag

engage_warehouse = build_warehouse_dag()
