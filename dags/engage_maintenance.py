"""Airflow: daily landing retention, warehouse checkpoint and published copy check."""

from engage.orchestration.dag_maintenance import build_maintenance_dag

engage_maintenance = build_maintenance_dag()
