"""The listener: every task of every DAG recorded as a guarded stage, with no change to the
DAG's code.

Airflow calls ``on_task_instance_running`` and then ``on_task_instance_success`` or
``_failed`` as separate hooks (in the task's process; a state set from the UI reaches the API
server's process instead), so nothing is carried from one hook to the other: the duration is
the task instance's ``end_date - start_date``, and every line binds its DAG, run, task and try
number itself. Each end hook observes ``mlops_guard_stage_duration_seconds`` and
``mlops_guard_stage_runs_total`` (``mlops_guard_stage_failures_total`` on failure) with
``flow=<dag_id>``, ``stage=<task_id>`` and the task's ``model`` when it has one, and flushes the
metrics sink at once: the task's process ends right after. No hook ever fails a task: every
error is logged and counted in ``mlops_guard_sink_failures_total{sink="airflow_listener"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from airflow.listeners import hookimpl

from mlops_guard.integrations.airflow import _context

__all__ = [
    "on_dag_run_failed",
    "on_dag_run_running",
    "on_dag_run_success",
    "on_task_instance_failed",
    "on_task_instance_running",
    "on_task_instance_success",
]

_log = logging.getLogger("mlops_guard.airflow.listener")
_UNKNOWN = "unknown"  # label value when a task names no model: labels must not be empty


def _safe(what: str, call: Callable[[], None]) -> None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - observability never breaks the task
        try:
            from mlops_guard.metrics import get_metrics

            get_metrics().sink_failures_total.labels(sink="airflow_listener").inc()
        finally:
            _log.warning(
                "mlops-guard listener: %s not recorded (%s: %s)", what, type(exc).__name__, exc
            )


def _model(task_instance: Any) -> str | None:
    """The model a task is about: the ``model`` of an mlops-guard operator (or any operator
    with one), rendered; else None."""
    task = getattr(task_instance, "task", None)
    model = getattr(task, "model", None)
    return model if isinstance(model, str) and model and "{{" not in model else None


def _duration(task_instance: Any) -> float:
    start = getattr(task_instance, "start_date", None)
    if start is None:
        return 0.0
    end = getattr(task_instance, "end_date", None) or datetime.now(UTC)
    return max(0.0, float((end - start).total_seconds()))


def _emit(event: str, level: str, task_instance: Any, **fields: Any) -> None:
    from mlops_guard.runlog import bind, get_runlog

    context = _context.context_fields(task_instance)
    own = {
        k: context.pop(k)
        for k in ("dag_id", "run_id", "task_id", "try_number", "map_index")
        if k in context
    }
    with bind(**context, stage=own["task_id"], model=_model(task_instance)):
        get_runlog().emit(event, level, **own, **fields)


def _started(task_instance: Any) -> None:
    _context.set_task(task_instance)
    _emit("stage.started", "INFO", task_instance)


def _ended(task_instance: Any, error: Any) -> None:
    from mlops_guard._stage import flush_pending, observe_stage
    from mlops_guard.metrics import MetricsSink, get_metrics
    from mlops_guard.settings import resolve_settings

    try:
        failed = error is not None
        duration = _duration(task_instance)
        dag_id = str(task_instance.dag_id)
        labels = {
            "flow": dag_id,
            "stage": str(task_instance.task_id),
            "model": _model(task_instance) or _UNKNOWN,
        }
        metrics = get_metrics()
        observe_stage(metrics, labels, duration, failed=failed)
        if failed:
            text = error if isinstance(error, str) else f"{error}"
            _emit(
                "stage.failed",
                "ERROR",
                task_instance,
                duration_seconds=round(duration, 6),
                error_type="str" if isinstance(error, str) else type(error).__name__,
                error=" ".join(text.split())[:500],
            )
        else:
            _emit("stage.completed", "INFO", task_instance, duration_seconds=round(duration, 6))
        # The task's process ends after this hook: flush now, not after the coalescing interval.
        flush_pending()
        MetricsSink(resolve_settings(None), metrics).flush(flow=dag_id)
    finally:
        _context.clear_task(task_instance)


@hookimpl  # type: ignore[untyped-decorator]
def on_task_instance_running(previous_state: Any, task_instance: Any) -> None:
    _safe("stage.started", lambda: _started(task_instance))


@hookimpl  # type: ignore[untyped-decorator]
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    _safe("stage.completed", lambda: _ended(task_instance, None))


@hookimpl  # type: ignore[untyped-decorator]
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any) -> None:
    # Airflow passes no error when the state was set from outside the task (the UI, a timeout).
    _safe(
        "stage.failed",
        lambda: _ended(task_instance, error if error is not None else "task instance failed"),
    )


def _dag_run(event: str, level: str, dag_run: Any, msg: str) -> None:
    from mlops_guard.runlog import bind, get_runlog

    dag_id, run_id = str(dag_run.dag_id), str(dag_run.run_id)
    with bind(flow=dag_id, flow_run_id=run_id, trace_id=_context.trace_id(dag_id, run_id)):
        get_runlog().emit(
            event,
            level,
            dag_id=dag_id,
            run_id=run_id,
            run_type=str(getattr(dag_run, "run_type", "")) or None,
            msg=msg or None,
        )


@hookimpl  # type: ignore[untyped-decorator]
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    _safe("dag_run.started", lambda: _dag_run("dag_run.started", "INFO", dag_run, msg))


@hookimpl  # type: ignore[untyped-decorator]
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _safe("dag_run.completed", lambda: _dag_run("dag_run.completed", "INFO", dag_run, msg))


@hookimpl  # type: ignore[untyped-decorator]
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _safe("dag_run.failed", lambda: _dag_run("dag_run.failed", "ERROR", dag_run, msg))
