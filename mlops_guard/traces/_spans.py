"""mlops-guard's own spans: one per guarded stage (and per registry move, alert, scoring call),
with ``host.name``, ``service.name`` and the run ids, so ``trace check`` can judge the clocks
of the hosts a pipeline runs on.

A span starts under the current OpenTelemetry context: inside a Prefect flow or task that
emits spans it nests under them; in a process started with a W3C ``TRACEPARENT`` in its
environment it continues that trace; otherwise it is a root whose trace id is the run log's
``trace_id`` (so run-log lines and spans of one flow run join). Export: see
:mod:`mlops_guard.traces._export`. Nothing here may fail the stage: errors are logged and
counted in ``mlops_guard_sink_failures_total{sink="traces"}``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from mlops_guard.settings import GuardSettings

__all__ = [
    "SERVICE_NAME",
    "StageSpan",
    "extract_traceparent",
    "flush_spans",
    "guard_span",
    "inject_traceparent",
    "start_stage_span",
]

_log = logging.getLogger("mlops_guard.traces")
SERVICE_NAME = "mlops-guard"
_TRACER = "mlops_guard"
_providers: dict[tuple[str, str, str], TracerProvider] = {}
_lock = threading.Lock()


def _provider(settings: GuardSettings) -> TracerProvider:
    directory = Path(settings.workdir) / "traces"
    service = os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME
    # An exporter per destination: a process whose settings change gets the new one.
    key = (str(directory.resolve()), service, _otlp_destination())
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            from mlops_guard.traces._export import build_provider

            # The file exporter appends a line per span: no thread to leak, nothing to lose
            # at exit. OTLP over HTTP batches in the background and is flushed at exit.
            provider = build_provider(
                service=service,
                directory=directory,
                id_generator=_run_log_trace_ids(),
                batch=_otlp_configured(),
            )
            atexit.register(provider.shutdown)
            _providers[key] = provider
        return provider


_ENDPOINTS = (
    "MLOPS_GUARD_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def _otlp_destination() -> str:
    return "|".join(os.environ.get(name, "") for name in _ENDPOINTS)


def _otlp_configured() -> bool:
    return any(os.environ.get(name) for name in _ENDPOINTS)


def flush_spans(timeout_millis: int = 5000) -> bool:
    """Export every span ended so far (OTLP batches go out now); True when all went."""
    with _lock:
        providers = list(_providers.values())
    return all(p.force_flush(timeout_millis) for p in providers)


def _run_log_trace_ids() -> Any:
    """An id generator whose root trace ids are the run log's ``trace_id`` (32 hex digits),
    so a flow run's spans, in any process, share its trace."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    from mlops_guard.runlog import current_context

    class RunLogTraceIds(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            trace_id = str(current_context().get("trace_id") or "")
            if len(trace_id) == 32:
                try:
                    value = int(trace_id, 16)
                except ValueError:
                    value = 0
                if value:
                    return value
            return super().generate_trace_id()

        def is_trace_id_random(self) -> bool:
            return False  # derived from the run's id, not random

    return RunLogTraceIds()


def inject_traceparent(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Add the current span's W3C ``traceparent`` (and ``tracestate``) to headers or an
    environment, so the process called continues the trace."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    TraceContextTextMapPropagator().inject(carrier)
    return carrier


def extract_traceparent(carrier: Mapping[str, str]) -> Any:
    """The OpenTelemetry context a ``traceparent`` header (any case) or ``TRACEPARENT``
    environment variable carries; the empty context when there is none."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    lowered = {k.lower(): v for k, v in carrier.items()}
    return TraceContextTextMapPropagator().extract(lowered)


def _parent_context() -> Any:
    """The current context, or the one a ``TRACEPARENT`` environment variable passes on."""
    from opentelemetry import trace

    if trace.get_current_span().get_span_context().is_valid:
        return None
    if os.environ.get("TRACEPARENT"):
        return extract_traceparent({"traceparent": os.environ["TRACEPARENT"]})
    return None


def _attributes(context: Mapping[str, Any]) -> dict[str, str]:
    names = {
        "flow": "mlops_guard.flow",
        "stage": "mlops_guard.stage",
        "model": "mlops_guard.model",
        "model_version": "mlops_guard.model_version",
        "flow_run_id": "mlops_guard.flow_run_id",
        "task_run_id": "mlops_guard.task_run_id",
        "trace_id": "mlops_guard.trace_id",
    }
    return {attr: str(context[key]) for key, attr in names.items() if context.get(key)}


class StageSpan:
    """A started span, current until :meth:`end`; a no-op when tracing failed to start."""

    def __init__(self, span: Any = None, token: Any = None) -> None:
        self._span = span
        self._token = token

    def end(self, error: BaseException | None = None) -> None:
        if self._span is None:
            return
        try:
            from opentelemetry import context as otel_context
            from opentelemetry.trace import Status, StatusCode

            if error is not None:
                self._span.record_exception(error)
                self._span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            self._span.end()
            if self._token is not None:
                otel_context.detach(self._token)
        except Exception as exc:  # noqa: BLE001 - observability never breaks the job
            _failed(exc)
        finally:
            self._span = None


def _failed(exc: BaseException) -> None:
    try:
        from mlops_guard.metrics import get_metrics

        get_metrics().sink_failures_total.labels(sink="traces").inc()
    finally:
        _log.warning("span not recorded (%s: %s); the pipeline goes on", type(exc).__name__, exc)


def start_stage_span(
    name: str,
    context: Mapping[str, Any],
    settings: GuardSettings,
    *,
    kind: str = "internal",
    attributes: Mapping[str, str] | None = None,
) -> StageSpan:
    """Start ``name`` as the current span with the run ids of ``context``; never raises."""
    if os.environ.get("MLOPS_GUARD_TRACES_ENABLED", "true").lower() in ("0", "false", "no"):
        return StageSpan()
    try:
        from opentelemetry import context as otel_context
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind

        tracer = _provider(settings).get_tracer(_TRACER)
        span = tracer.start_span(
            name,
            context=_parent_context(),
            kind=getattr(SpanKind, kind.upper()),
            attributes={**_attributes(context), **(attributes or {})},
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        return StageSpan(span, token)
    except Exception as exc:  # noqa: BLE001 - observability never breaks the job
        _failed(exc)
        return StageSpan()


@contextmanager
def guard_span(
    name: str,
    *,
    settings: GuardSettings | None = None,
    kind: str = "internal",
    attributes: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """A span around a block (registry moves, scoring calls, alerts): the run ids in force,
    failure recorded on the span, never an error of its own."""
    from mlops_guard.runlog import current_context
    from mlops_guard.settings import resolve_settings

    span = start_stage_span(
        name, current_context(), resolve_settings(settings), kind=kind, attributes=attributes
    )
    try:
        yield
    except BaseException as exc:
        span.end(exc)
        raise
    span.end()
