"""Airflow: load -> one `dbt build` -> publish, scheduled on each source's landed asset and on pushes."""

from engage.orchestration.dag_factory import build_warehouse_dag

engage_warehouse = build_warehouse_dag()
