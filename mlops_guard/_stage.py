"""The orchestrator-agnostic core of the guard: record one pipeline stage.

:class:`StageRecorder` logs ``stage.started`` / ``stage.completed`` / ``stage.failed`` to the run
log, observes ``mlops_guard_stage_duration_seconds``, counts ``mlops_guard_stage_failures_total``,
flushes the metrics sink and hands an event to an optional emitter (:func:`emit_stage_event`
sends it to the orchestrators' sinks). :func:`stage` makes a pipeline step a recorded stage that
runs as the orchestrator's task inside one of its runs, and as a plain call everywhere else.

No sink may fail the stage: every observability call is wrapped, logged and counted.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_guard.runlog import bind, current_context, get_runlog
from mlops_guard.settings import resolve_settings

if TYPE_CHECKING:
    from mlops_guard.metrics import GuardMetrics, MetricsSink
    from mlops_guard.runlog import RunLog
    from mlops_guard.settings import GuardSettings

__all__ = [
    "EventEmitter",
    "StageOutcome",
    "StageRecorder",
    "emit_stage_event",
    "flush_pending",
    "observe_stage",
    "stage",
]

_log = logging.getLogger("mlops_guard.stage")

EventEmitter = Callable[[str, Mapping[str, Any]], object]
"""Called with an event name (``mlops_guard.stage.completed``) and its payload."""

_UNKNOWN = "unknown"  # label value when a flow or model is not known: labels must not be empty


@dataclass
class StageOutcome:
    """What happened to one stage run; kept by the recorder for summaries and tests."""

    stage: str
    flow: str
    model: str
    status: str = "running"
    duration_seconds: float = 0.0
    error_type: str | None = None
    error: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


class StageRecorder:
    """Context manager that records a stage.

    >>> from mlops_guard.settings import GuardSettings
    >>> import tempfile
    >>> settings = GuardSettings(workdir=tempfile.mkdtemp())
    >>> with StageRecorder("fit", flow="train", model="churn", settings=settings) as rec:
    ...     pass
    >>> rec.outcome.status
    'completed'
    """

    def __init__(
        self,
        stage: str,
        *,
        flow: str | None = None,
        model: str | None = None,
        settings: GuardSettings | None = None,
        metrics: GuardMetrics | None = None,
        runlog: RunLog | None = None,
        sink: MetricsSink | None = None,
        emit: EventEmitter | None = None,
        flush_metrics: bool = True,
    ) -> None:
        from mlops_guard.metrics import MetricsSink, get_metrics

        self.stage = stage
        self._flow = flow
        self._model = model
        self.settings = resolve_settings(settings)
        self.metrics = metrics or get_metrics()
        self.runlog = runlog or get_runlog(self.settings)
        self.sink = sink or MetricsSink(self.settings, self.metrics)
        self._emit = emit
        self._flush = flush_metrics
        self._start = 0.0
        self._bind: Any = None
        self.outcome = StageOutcome(stage=stage, flow=_UNKNOWN, model=_UNKNOWN)

    def __enter__(self) -> StageRecorder:
        self._bind = bind(stage=self.stage, flow=self._flow, model=self._model)
        self._bind.__enter__()
        context = current_context()
        self.outcome.flow = str(context.get("flow") or _UNKNOWN)
        self.outcome.model = str(context.get("model") or _UNKNOWN)
        self.outcome.context = context
        from mlops_guard.traces._spans import start_stage_span

        self._span = start_stage_span(self.stage, context, self.settings)
        self._safe("runlog", self.runlog.emit, "stage.started")
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        duration = time.perf_counter() - self._start
        outcome = self.outcome
        outcome.duration_seconds = duration
        labels = {"flow": outcome.flow, "stage": self.stage, "model": outcome.model}
        try:
            if exc is None:
                outcome.status = "completed"
                self._safe("metrics", self._observe, labels, duration, failed=False)
                self._safe(
                    "runlog",
                    self.runlog.emit,
                    "stage.completed",
                    duration_seconds=round(duration, 6),
                )
            else:
                outcome.status = "failed"
                outcome.error_type = type(exc).__name__
                outcome.error = " ".join(str(exc).split())[:500]
                self._safe("metrics", self._observe, labels, duration, failed=True)
                self._safe(
                    "runlog",
                    self.runlog.emit,
                    "stage.failed",
                    "ERROR",
                    duration_seconds=round(duration, 6),
                    error_type=outcome.error_type,
                    error=outcome.error,
                )
            if self._flush:
                _scheduler.request(
                    self.sink, outcome.flow, self.settings.metrics_flush_interval_seconds
                )
            if self._emit is not None:
                payload = {
                    "stage": self.stage,
                    "flow": outcome.flow,
                    "model": outcome.model,
                    "status": outcome.status,
                    "duration_seconds": round(duration, 6),
                    "trace_id": outcome.context.get("trace_id"),
                    "flow_run_id": outcome.context.get("flow_run_id"),
                    "task_run_id": outcome.context.get("task_run_id"),
                    "error_type": outcome.error_type,
                }
                self._safe("events", self._emit, f"mlops_guard.stage.{outcome.status}", payload)
        finally:
            self._span.end(exc)
            self._bind.__exit__(exc_type, exc, tb)

    def _observe(self, labels: Mapping[str, str], duration: float, *, failed: bool) -> None:
        observe_stage(self.metrics, labels, duration, failed=failed)

    def _safe(self, sink: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run an observability call; a failure is logged and counted, never raised."""
        try:
            call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - observability never breaks the job
            try:
                self.metrics.sink_failures_total.labels(sink=sink).inc()
            finally:
                _log.warning(
                    "stage %s: %s sink failed (%s: %s); the stage goes on",
                    self.stage,
                    sink,
                    type(exc).__name__,
                    exc,
                )


def observe_stage(
    metrics: GuardMetrics, labels: Mapping[str, str], duration: float, *, failed: bool
) -> None:
    """The stage metrics of one finished stage run (labels flow, stage, model); for recorders
    that see a stage's start and end apart, such as an orchestrator's task listener."""
    metrics.stage_duration_seconds.labels(**labels).observe(duration)
    metrics.stage_runs_total.labels(**labels, status="failed" if failed else "completed").inc()
    if failed:
        metrics.stage_failures_total.labels(**labels).inc()
    else:
        metrics.stage_last_success_timestamp_seconds.labels(**labels).set_to_current_time()


class _FlushScheduler:
    """Coalesces the metric flushes stages ask for: at most one per interval per sink target,
    plus a trailing flush so the last stage's numbers always reach the sink (and one at exit).

    A textfile write or a Pushgateway push costs milliseconds; a tight loop of small stages
    would otherwise spend most of its time exporting metrics nobody scrapes that often.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[Any, ...], float] = {}
        self._pending: dict[tuple[Any, ...], tuple[MetricsSink, str, threading.Timer]] = {}

    @staticmethod
    def _key(sink: MetricsSink, flow: str) -> tuple[Any, ...]:
        target = sink.settings.pushgateway_url or str(sink.settings.metrics_textfile(flow))
        return (sink.kind, target, id(sink.metrics), flow)

    def request(self, sink: MetricsSink, flow: str, interval: float) -> None:
        if interval <= 0:
            sink.flush(flow=flow)
            return
        key = self._key(sink, flow)
        with self._lock:
            now = time.monotonic()
            elapsed = now - self._last.get(key, float("-inf"))
            if key in self._pending:
                timer = self._pending[key][2]
                self._pending[key] = (sink, flow, timer)
                return
            if elapsed < interval:
                timer = threading.Timer(interval - elapsed, self._fire, args=(key,))
                timer.daemon = True
                self._pending[key] = (sink, flow, timer)
                timer.start()
                return
            self._last[key] = now
        sink.flush(flow=flow)

    def _fire(self, key: tuple[Any, ...]) -> None:
        with self._lock:
            entry = self._pending.pop(key, None)
            self._last[key] = time.monotonic()
        if entry is not None:
            entry[0].flush(flow=entry[1])

    def flush_all(self) -> None:
        with self._lock:
            entries = list(self._pending.values())
            self._pending.clear()
            now = time.monotonic()
            for sink, flow, timer in entries:
                timer.cancel()
                self._last[self._key(sink, flow)] = now
        for sink, flow, _timer in entries:
            sink.flush(flow=flow)


_scheduler = _FlushScheduler()
atexit.register(_scheduler.flush_all)


def flush_pending() -> None:
    """Flush now every metrics sink that guarded stages left with a pending (coalesced) flush.

    Flows call it as they finish, so a batch job's last numbers are exported before it returns.
    """
    _scheduler.flush_all()


#: Events about a stage are about the resource ``mlops_guard.stage.<flow>.<stage>``.
EVENT_RESOURCE_PREFIX = "mlops_guard"

F = TypeVar("F", bound=Callable[..., Any])


def emit_stage_event(
    event: str,
    payload: Mapping[str, Any],
    *,
    resource_id: str | None = None,
    metrics: GuardMetrics | None = None,
) -> bool:
    """Send an event to the orchestrators' sinks (:func:`mlops_guard._events.emit`), best effort.

    The resource is ``mlops_guard.stage.<flow>.<stage>`` for stage events unless ``resource_id``
    names another one (``mlops_guard.model.churn`` for model events).
    """
    from mlops_guard._events import GuardEvent, emit

    rid = resource_id or (
        f"{EVENT_RESOURCE_PREFIX}.stage.{payload.get('flow')}.{payload.get('stage')}"
    )
    return emit(
        GuardEvent(
            event=event, resource_id=rid, resource_name=rid.rsplit(".", 1)[-1], payload=payload
        ),
        metrics=metrics,
    )


def stage(name: str | None = None, *, model: str | None = None) -> Callable[[F], F]:
    """Make a pipeline step a guarded stage, with no orchestrator in the code.

    Each call is recorded by a :class:`StageRecorder` (run log, metrics, event). Inside a run
    of an orchestrator that offers tasks (a Prefect flow run), the call runs as that
    orchestrator's task of the same name, so it shows in its UI with its own run id; anywhere
    else (a plain script, an Airflow task, a test) it runs in place.

    >>> @stage("fit")
    ... def fit(rows: int) -> int:
    ...     return rows * 2
    """

    def decorate(fn: F) -> F:
        stage_name = name or fn.__name__

        @functools.wraps(fn)
        def recorded(*args: Any, **kwargs: Any) -> Any:
            with StageRecorder(stage_name, model=model, emit=emit_stage_event):
                return fn(*args, **kwargs)

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            from mlops_guard._events import as_task

            return as_task(stage_name, recorded)(*args, **kwargs)

        return call  # type: ignore[return-value]

    return decorate
