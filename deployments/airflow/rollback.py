"""Roll a model's champion back one promotion; idempotent per alert fingerprint.

The Airflow counterpart of the ``rollback`` deployment in deployments/prefect.yaml. The alert
receiver triggers it (MLOPS_GUARD_ALERTS_ROLLBACK_MODE=airflow) through Airflow's REST API with
the conf ``model``, ``reason``, ``model_version`` (the version the alert was about: nothing moves
when the champion changed since) and ``alert_fingerprint``; it also runs by hand:
``airflow dags trigger mlops_guard_rollback --conf '{"model": "churn", "reason": "..."}'``.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from mlops_guard.integrations.airflow import RollbackOperator

with DAG(
    dag_id="mlops_guard_rollback",
    description="Roll a model's champion back one promotion; idempotent per alert fingerprint.",
    schedule=None,
    catchup=False,
    tags=["mlops-guard", "rollback"],
    params={
        "model": Param(type="string", description="Registered model to roll back."),
        "reason": Param("rollback requested", type="string", description="Recorded with it."),
        "model_version": Param(
            None, type=["null", "string"], description="Move only while this is the champion."
        ),
        "alert_fingerprint": Param(
            None, type=["null", "string"], description="The incident key: one rollback each."
        ),
    },
) as dag:
    RollbackOperator(
        task_id="rollback",
        model="{{ params.model }}",
        reason="{{ params.reason }}",
        expected_champion="{{ params.model_version }}",
        alert_fingerprint="{{ params.alert_fingerprint }}",
    )
