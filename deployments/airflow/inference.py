"""Score a batch with the champion; rows that break the contract are quarantined.

The Airflow counterpart of the ``inference`` deployment in deployments/prefect.yaml:
``airflow dags trigger mlops_guard_inference --conf '{"data": "PATH"}'``.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from mlops_guard.integrations.airflow import ScoreOperator

with DAG(
    dag_id="mlops_guard_inference",
    description="Score a batch with the champion; quarantine rows that break the contract.",
    schedule=None,
    catchup=False,
    tags=["mlops-guard", "inference"],
    params={
        "data": Param(type="string", description="The batch to score (CSV or Parquet)."),
        "model": Param(None, type=["null", "string"], description="Registered model name."),
        "batch_id": Param(None, type=["null", "string"], description="Name of the batch."),
    },
) as dag:
    ScoreOperator(
        task_id="score",
        data="{{ params.data }}",
        model="{{ params.model or '' }}",
        batch_id="{{ params.batch_id or '' }}",
    )
