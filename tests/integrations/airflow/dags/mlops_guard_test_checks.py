"""A DAG of check operators for the tests: validation (a failed batch fails the task) and a
drift check of two files. Retries are set so that a test sees they are not used for a failed
check."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, Param

from mlops_guard.integrations.airflow import DriftCheckOperator, ValidateOperator

with DAG(
    dag_id="mlops_guard_test_checks",
    schedule=None,
    catchup=False,
    params={
        "data": Param(type="string"),
        "reference": Param(type="string"),
        "policy": Param("fail", type="string"),
    },
    default_args={"retries": 2, "retry_delay": timedelta(seconds=0)},
) as dag:
    ValidateOperator(
        task_id="validate",
        data="{{ params.data }}",
        suite="churn",
        policy="fail",
        passed_path="{{ params.data }}.passed.csv",
    )
    DriftCheckOperator(
        task_id="drift",
        reference="{{ params.reference }}",
        current="{{ params.data }}",
        fail_on_drift=True,
    )
