"""The Airflow event sink: run-log context from the task running here, events and reports in
the task's log (Airflow has no event bus a DAG could react to the way Prefect's automations do;
operators push their typed results to XCom instead)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlops_guard.integrations.airflow import _context

if TYPE_CHECKING:
    from mlops_guard._events import GuardEvent

__all__ = ["AirflowEvents"]

#: Lines on this logger land in the task's log (Airflow captures a task process's logging).
_task_log = logging.getLogger("mlops_guard.airflow")


class AirflowEvents:
    """Inside an Airflow task: run ids for every run-log line, run-log lines, events and
    artifacts in the task log. Outside a task: nothing (ready is False, the context empty)."""

    name = "airflow_events"
    orchestrator = "airflow"

    def __init__(self) -> None:
        # Loaded through the mlops_guard.event_sinks entry point; without Airflow it is left
        # out. Found, not imported: a process that never runs a task does not pay for Airflow.
        from importlib.util import find_spec

        if find_spec("airflow") is None:
            raise ImportError("apache-airflow is not installed")

    def ready(self, payload: Mapping[str, Any]) -> bool:
        return _context.current_task() is not None

    def send(self, event: GuardEvent) -> bool:
        if _context.current_task() is None:
            return False
        body = {
            "event": event.event,
            "resource": event.resource_id,
            "payload": {k: v for k, v in event.payload.items() if v is not None},
        }
        _task_log.info("mlops-guard event %s", json.dumps(body, default=str, sort_keys=True))
        return True

    def run_context(self) -> dict[str, Any]:
        ti = _context.current_task()
        return {} if ti is None else _context.context_fields(ti)

    def log(self, level: int, line: str) -> None:
        if _context.current_task() is not None:
            _task_log.log(level, "%s", line)

    def artifact(self, kind: str, key: str, content: Any, description: str | None) -> bool:
        if _context.current_task() is None:
            return False
        if kind == "table":
            text = "\n".join(json.dumps(row, default=str, sort_keys=True) for row in content)
        else:
            text = str(content)
        title = f"{kind} {key}" + (f" ({description})" if description else "")
        _task_log.info("mlops-guard %s:\n%s", title, text)
        return True
