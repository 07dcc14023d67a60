"""Structured run logs: JSON lines, one event a line, in the workdir and Prefect's run logs.

Every line carries ``ts`` (RFC 3339, UTC, microseconds), ``level``, ``event``, ``flow``,
``flow_run_id``, ``task_run_id``, ``stage``, ``model``, ``model_version`` and ``trace_id``, then
the event's own fields. The context fields come from :func:`bind` (the guard binds them for each
stage) and, inside a Prefect run, from Prefect's run context. Inside a Prefect run each line also
goes to Prefect's run logs through its API log handler: it shows in the run's logs in the Prefect
UI, and the console is not sent a copy.

A sink that fails (full disk, unwritable directory, Prefect's API down) is logged on the
``mlops_guard.runlog`` logger and counted in ``mlops_guard_sink_failures_total``; it never raises.

>>> import tempfile, json, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "runlog.jsonl"
>>> log = RunLog(path)
>>> with bind(flow="train", model="churn"):
...     record = log.emit("stage.started", stage="fit")
>>> json.loads(path.read_text())["flow"]
'train'
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.settings import GuardSettings

__all__ = [
    "CONTEXT_FIELDS",
    "RunLog",
    "bind",
    "current_context",
    "get_runlog",
    "log_event",
    "read_runlog",
    "rfc3339_now",
]

CONTEXT_FIELDS = (
    "flow",
    "flow_run_id",
    "task_run_id",
    "stage",
    "model",
    "model_version",
    "trace_id",
)
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

_log = logging.getLogger("mlops_guard.runlog")
_bound: ContextVar[Mapping[str, Any]] = ContextVar(
    "mlops_guard_runlog_context", default=MappingProxyType({})
)
# One trace id per process when nothing better is known: lines of one process stay joinable.
_PROCESS_TRACE_ID = uuid.uuid4().hex


def rfc3339_now() -> str:
    """Now in UTC as RFC 3339 with microseconds, e.g. ``2026-11-23T16:21:28.123456Z``."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@contextmanager
def bind(**fields: Any) -> Iterator[Mapping[str, Any]]:
    """Bind context fields (flow, stage, model, ...) for every event logged inside the block."""
    merged = {**_bound.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _bound.set(merged)
    try:
        yield merged
    finally:
        _bound.reset(token)


def current_context() -> dict[str, Any]:
    """The context fields in force here, every one present (None when unknown)."""
    merged: dict[str, Any] = dict.fromkeys(CONTEXT_FIELDS)
    from mlops_guard._events import run_context

    prefect_fields = run_context()
    merged.update({k: v for k, v in prefect_fields.items() if v is not None})
    merged.update(_bound.get())
    if not merged.get("trace_id"):
        env_trace = os.environ.get("MLOPS_GUARD_TRACE_ID")
        if env_trace:
            merged["trace_id"] = env_trace
        elif merged.get("flow_run_id"):
            # Every task of a flow run, in any process, derives the same trace id.
            merged["trace_id"] = uuid.UUID(str(merged["flow_run_id"])).hex
        else:
            merged["trace_id"] = _PROCESS_TRACE_ID
    return merged


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return str(value)


class RunLog:
    """Appends run-log events to one JSON-lines file and mirrors them to Prefect's run logger."""

    def __init__(
        self,
        path: str | Path,
        *,
        metrics: GuardMetrics | None = None,
        mirror_to_prefect: bool = True,
    ) -> None:
        self.path = Path(path)
        self._metrics = metrics
        self._mirror = mirror_to_prefect
        self._lock = threading.Lock()

    def _count_failure(self, sink: str) -> None:
        from mlops_guard.metrics import get_metrics

        (self._metrics or get_metrics()).sink_failures_total.labels(sink=sink).inc()

    def emit(self, event: str, level: str = "INFO", **fields: Any) -> dict[str, Any]:
        """Write one event; returns the record written (also when a sink failed)."""
        level = level.upper()
        record: dict[str, Any] = {"ts": rfc3339_now(), "level": level, "event": event}
        record.update(current_context())
        # Event fields may override context (a stage logging its own model_version, say).
        record.update(fields)
        line = json.dumps(record, default=_json_default, allow_nan=False, separators=(",", ":"))
        self._write(line)
        if self._mirror:
            self._to_prefect(level, line)
        return record

    def _write(self, line: str) -> None:
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # O_APPEND: concurrent writers in other processes never interleave within a line.
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, (line + "\n").encode())
                finally:
                    os.close(fd)
        except OSError as exc:
            self._count_failure("runlog")
            _log.warning("run log %s not written (%s); the pipeline goes on", self.path, exc)

    def _to_prefect(self, level: str, line: str) -> None:
        from mlops_guard._events import forward_log

        forward_log(_LEVELS.get(level, logging.INFO), line, metrics=self._metrics)


_runlogs: dict[Path, RunLog] = {}
_runlogs_lock = threading.Lock()


def get_runlog(settings: GuardSettings | None = None) -> RunLog:
    """The run log of a working directory (one instance per path in this process)."""
    if settings is None:
        from mlops_guard.settings import active_settings

        settings = active_settings()
    path = settings.runlog_path.resolve()
    with _runlogs_lock:
        if path not in _runlogs:
            _runlogs[path] = RunLog(path)
        return _runlogs[path]


def log_event(
    event: str, level: str = "INFO", *, settings: GuardSettings | None = None, **fields: Any
) -> dict[str, Any]:
    """Log one event to the working directory's run log. See :meth:`RunLog.emit`."""
    return get_runlog(settings).emit(event, level, **fields)


def read_runlog(path: str | Path) -> list[dict[str, Any]]:
    """All events of a run-log file, oldest first (for tests, summaries and the demo)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
