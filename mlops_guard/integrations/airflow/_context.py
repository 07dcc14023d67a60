"""The task instance running in this process, as the listener and the sink see it.

Airflow 3 runs each task in a task-runner process; the listener's ``running`` hook sees the task
instance before the operator's context is pushed, so it is kept here too. Nothing here imports
Airflow unless Airflow's task SDK is already loaded.
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import Any

__all__ = ["clear_task", "context_fields", "current_task", "set_task", "trace_id"]

_lock = threading.Lock()
_task: Any = None


def set_task(task_instance: Any) -> None:
    global _task
    with _lock:
        _task = task_instance


def clear_task(task_instance: Any) -> None:
    global _task
    with _lock:
        if _task is task_instance:
            _task = None


def current_task() -> Any:
    """The task instance of the task running here: the operator's context when one is pushed,
    else the one the listener saw start; None outside a task."""
    if "airflow.sdk" in sys.modules:
        from airflow.sdk import get_current_context

        try:
            ti = get_current_context().get("ti")
        except Exception:  # noqa: BLE001 - no context pushed (RuntimeError), or not a task
            ti = None
        if ti is not None:
            return ti
    with _lock:
        return _task


def trace_id(dag_id: str, run_id: str) -> str:
    """One trace id per DAG run, derived the same way in every task process."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"airflow:{dag_id}/{run_id}").hex


def context_fields(task_instance: Any) -> dict[str, Any]:
    """The run-log context of a task instance (runtime or database one): the DAG is the flow,
    the DAG run the flow run, the task instance's id the task run."""
    dag_id = str(task_instance.dag_id)
    run_id = str(task_instance.run_id)
    ti_id = getattr(task_instance, "id", None)
    fields: dict[str, Any] = {
        "flow": dag_id,
        "flow_run_id": run_id,
        "task_run_id": None if ti_id is None else str(ti_id),
        "trace_id": trace_id(dag_id, run_id),
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": str(task_instance.task_id),
        "try_number": getattr(task_instance, "try_number", None),
    }
    map_index = getattr(task_instance, "map_index", -1)
    if map_index is not None and map_index >= 0:
        fields["map_index"] = map_index
    return fields
