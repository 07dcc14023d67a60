"""The core's one interface to orchestrators: events and artifacts out, run context and log
lines in and out.

The concerns (validation, registry, drift, monitors) describe an event as a :class:`GuardEvent`
and call :func:`emit`; reports go out as artifacts (:func:`publish_table`,
:func:`publish_markdown`, :func:`publish_link`); the run log asks :func:`run_context` for the
orchestrator's run ids and hands each line to :func:`forward_log`; the pipelines run their
stages and themselves as the orchestrator's tasks and flows through :func:`as_task` and
:func:`as_flow` (plain calls where no orchestrator offers them). Each orchestrator
integration provides an :class:`EventSink` through the ``mlops_guard.event_sinks`` entry point
(Prefect's ships with the package); a sink whose orchestrator is not installed, or not
reachable without side effects, is skipped. Nothing here imports an orchestrator, and a sink
that fails is logged and counted, never raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mlops_guard.metrics import GuardMetrics

__all__ = [
    "ENTRY_POINT_GROUP",
    "EventSink",
    "GuardEvent",
    "as_flow",
    "as_task",
    "emit",
    "forward_log",
    "publish_link",
    "publish_markdown",
    "publish_run_artifact",
    "publish_table",
    "quiet_consoles",
    "register_sink",
    "run_context",
    "sinks",
]

#: The entry-point group integrations register their sinks under.
ENTRY_POINT_GROUP = "mlops_guard.event_sinks"
_log = logging.getLogger("mlops_guard.events")


@dataclass(frozen=True)
class GuardEvent:
    """One event: its name (``mlops_guard.alias.moved``), the resource it is about (a model,
    a suite, a training job), related resources (``{"id", "role", "name"}``) and a JSON-ready
    payload (``flow_run_id`` in it ties the event to the orchestrator's run)."""

    event: str
    resource_id: str
    resource_name: str
    payload: Mapping[str, Any]
    related: Sequence[Mapping[str, str]] = field(default_factory=tuple)


class EventSink(Protocol):
    """What an orchestrator integration implements to receive events."""

    #: The ``sink`` label of ``mlops_guard_sink_failures_total`` when a send fails.
    name: str

    def ready(self, payload: Mapping[str, Any]) -> bool:
        """Whether an event can be sent now without side effects (starting a server, say)."""
        ...

    def send(self, event: GuardEvent) -> bool:
        """Send ``event``; True when the orchestrator took it."""
        ...

    def run_context(self) -> dict[str, Any]:
        """The orchestrator's ids of the run in progress here (``flow_run_id``, ``flow``,
        ``task_run_id``), empty outside a run."""
        ...

    def log(self, level: int, line: str) -> None:
        """Show a run-log line in the orchestrator's run logs (nothing outside a run)."""
        ...

    def artifact(self, kind: str, key: str, content: Any, description: str | None) -> bool:
        """Attach a report to the run in progress (``kind``: ``table``, ``markdown`` or
        ``link``); False outside a run. Failures are the sink's to count."""
        ...


class ArtifactsForRuns(Protocol):
    """What a sink may also implement to attach a report to a run that is not in progress
    here (a report written after the run, from its run log)."""

    def run_artifact(
        self, kind: str, run_id: str, key: str, content: Any, description: str | None
    ) -> bool:
        """Attach a report to the orchestrator's run ``run_id``; False when no API of the
        orchestrator is configured here. Raises when the API was there and failed."""
        ...


class RunsAsOrchestrator(Protocol):
    """What a sink may also implement to run the pipelines as its orchestrator's flows and
    tasks (Prefect's does; a sink without these methods only receives events)."""

    def task(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any] | None:
        """``fn`` as the orchestrator's task named ``name`` when called inside one of its
        runs, else None (the stage then runs as a plain call)."""
        ...

    def flow(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` as the orchestrator's flow (or DAG-less run) named ``name``."""
        ...

    def quiet_console(self) -> None:
        """Keep the orchestrator's console output (run log lines, tracebacks) out of a
        command's own; its logs still reach the orchestrator."""
        ...


_lock = threading.Lock()
_registered: list[EventSink] = []
_discovered = False


def register_sink(sink: EventSink) -> None:
    """Add a sink (an integration loaded outside the entry points, a test's recorder)."""
    with _lock:
        _registered.append(sink)


def sinks() -> list[EventSink]:
    """The registered sinks; entry points are loaded once, on first use. An integration whose
    orchestrator is not installed fails to load and is left out."""
    global _discovered
    with _lock:
        if not _discovered:
            _discovered = True
            from importlib.metadata import entry_points

            for point in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    _registered.append(point.load()())
                except ImportError:
                    continue
                except Exception as exc:  # noqa: BLE001 - a broken plugin must not break jobs
                    _log.warning("event sink %s not loaded (%s)", point.name, exc)
        return list(_registered)


def emit(event: GuardEvent, *, metrics: GuardMetrics | None = None) -> bool:
    """Send ``event`` to every ready sink; True when at least one took it."""
    from mlops_guard.metrics import get_metrics

    sent = False
    for sink in sinks():
        try:
            if not sink.ready(event.payload):
                continue
            sent = sink.send(event) or sent
        except Exception as exc:  # noqa: BLE001 - an event is observability, never a failure
            (metrics or get_metrics()).sink_failures_total.labels(sink=sink.name).inc()
            _log.warning(
                "event %s not sent to %s (%s: %s)", event.event, sink.name, type(exc).__name__, exc
            )
    return sent


def as_task(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as the first sink's task when a run of its orchestrator is in progress here,
    else ``fn`` itself. A sink that fails to wrap is logged; the stage then runs plainly."""
    for sink in sinks():
        hook = getattr(sink, "task", None)
        if hook is None:
            continue
        try:
            task: Callable[..., Any] | None = hook(name, fn)
        except Exception as exc:  # noqa: BLE001 - running the stage matters more than its UI
            _log.warning("stage %s not run as a %s task (%s)", name, sink.name, exc)
            continue
        if task is not None:
            return task
    return fn


def as_flow(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as the first orchestrator's flow named ``name``; ``fn`` itself without one."""
    for sink in sinks():
        hook = getattr(sink, "flow", None)
        if hook is not None:
            flow: Callable[..., Any] = hook(name, fn)
            return flow
    return fn


def quiet_consoles() -> None:
    """Ask every sink that can to keep its orchestrator's console output quiet."""
    for sink in sinks():
        hook = getattr(sink, "quiet_console", None)
        if hook is not None:
            hook()


def run_context() -> dict[str, Any]:
    """The run ids the sinks know here (the first sink's win)."""
    found: dict[str, Any] = {}
    for sink in sinks():
        try:
            for key, value in sink.run_context().items():
                found.setdefault(key, value)
        except Exception as exc:  # noqa: BLE001 - context is observability, never a failure
            _log.warning("run context of %s not read (%s)", sink.name, exc)
    return found


def forward_log(level: int, line: str, *, metrics: GuardMetrics | None = None) -> None:
    """Hand a run-log line to every sink; a failure is counted as ``<sink>_log``."""
    from mlops_guard.metrics import get_metrics

    for sink in sinks():
        try:
            sink.log(level, line)
        except Exception as exc:  # noqa: BLE001 - observability never breaks the job
            (metrics or get_metrics()).sink_failures_total.labels(sink=f"{sink.name}_log").inc()
            _log.warning("run log line not forwarded to %s (%s)", sink.name, exc)


def _publish(kind: str, key: str, content: Any, description: str | None) -> bool:
    published = False
    for sink in sinks():
        try:
            published = sink.artifact(kind, key, content, description) or published
        except Exception as exc:  # noqa: BLE001 - a report is observability, not the decision
            from mlops_guard.metrics import get_metrics

            get_metrics().sink_failures_total.labels(sink=f"{sink.name}_artifacts").inc()
            _log.warning("%s artifact %s not published to %s (%s)", kind, key, sink.name, exc)
    return published


def publish_table(
    key: str, rows: Sequence[Mapping[str, Any]], description: str | None = None
) -> bool:
    """A table attached to the orchestrator's run in progress; False outside a run."""
    return _publish("table", key, [dict(r) for r in rows], description)


def publish_markdown(key: str, markdown: str, description: str | None = None) -> bool:
    """A markdown report attached to the run in progress; False outside a run."""
    return _publish("markdown", key, markdown, description)


def publish_link(key: str, link: str, description: str | None = None) -> bool:
    """A link (an HTML report in MLflow, say) attached to the run in progress."""
    return _publish("link", key, link, description)


def publish_run_artifact(
    kind: str, run_id: str, key: str, content: Any, description: str | None = None
) -> dict[str, str | None]:
    """Attach a report (``kind``: ``markdown`` or ``link``) to the orchestrator run
    ``run_id``, which need not be in progress here. Returns, for each sink that tried, None
    when it attached the report or why it failed; sinks without a configured API are left
    out. A failure is logged and counted as ``<sink>_artifacts``, never raised."""
    tried: dict[str, str | None] = {}
    for sink in sinks():
        hook = getattr(sink, "run_artifact", None)
        if hook is None:
            continue
        try:
            if hook(kind, run_id, key, content, description):
                tried[sink.name] = None
        except Exception as exc:  # noqa: BLE001 - a report is observability, not the decision
            from mlops_guard.metrics import get_metrics

            get_metrics().sink_failures_total.labels(sink=f"{sink.name}_artifacts").inc()
            tried[sink.name] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            _log.warning(
                "%s artifact %s not attached to run %s by %s (%s)",
                kind, key, run_id, sink.name, tried[sink.name],
            )  # fmt: skip
    return tried
