"""Train on a data file (validated first) and register a version with lineage tags.

The Airflow counterpart of the ``training`` deployment in deployments/prefect.yaml. Trigger it
with the data file: ``airflow dags trigger mlops_guard_training --conf '{"data": "PATH"}'``.
Settings reach the task through the worker's environment (MLOPS_GUARD_WORKDIR,
MLOPS_GUARD_TRACKING_URI, ...), so no secret sits in this file.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from mlops_guard.integrations.airflow import TrainOperator

with DAG(
    dag_id="mlops_guard_training",
    description="Train on a data file, validate it first, register a version with lineage tags.",
    schedule=None,
    catchup=False,
    tags=["mlops-guard", "training"],
    params={
        "data": Param(type="string", description="The training data (CSV or Parquet)."),
        "model": Param(None, type=["null", "string"], description="Registered model name."),
    },
) as dag:
    TrainOperator(task_id="train", data="{{ params.data }}", model="{{ params.model or '' }}")
