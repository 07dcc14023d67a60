"""Compare the latest scored batches with the champion's reference profile, hourly.

The Airflow counterpart of the scheduled ``drift-check`` deployment in
deployments/prefect.yaml (the same cron: a few minutes past the hour, so batches scored on the
hour are in). Dataset drift fails the task, with the drifted columns in the message; the
result is the task's XCom either way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, Param

from mlops_guard.integrations.airflow import DriftCheckOperator

with DAG(
    dag_id="mlops_guard_drift_check",
    description="Compare the latest scored batches with the champion's reference profile.",
    schedule="5 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["mlops-guard", "drift"],
    params={
        "model": Param(None, type=["null", "string"], description="Registered model name."),
    },
) as dag:
    DriftCheckOperator(task_id="drift_check", model="{{ params.model or '' }}")
