"""Running a DAG of the session's DAG folder in this process (``dag.test()``) and reading back
what Airflow recorded: task instances and XComs from the metadata database."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

from tests.integrations.airflow.conftest import DAGS


def load_dag(dag_id: str, filename: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"dag_{dag_id}", DAGS / filename)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    assert dag.dag_id == dag_id
    return dag


def task_instances(dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id).all()
        for row in rows:
            session.expunge(row)
    return {row.task_id: row for row in rows}


def xcom(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key)
            .one_or_none()
        )
        value = None if row is None else row.value
    return json.loads(value) if isinstance(value, str) else value


def runlog(workdir: Any, dag_id: str) -> list[dict[str, Any]]:
    from mlops_guard.runlog import read_runlog

    return [
        line
        for line in read_runlog(workdir / "logs" / "runlog.jsonl")
        if line.get("flow") == dag_id
    ]
