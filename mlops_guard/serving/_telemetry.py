"""Request telemetry: JSON-lines request logs and OpenTelemetry spans.

Request logs go through a queue to a writer thread, so a slow disk or a full pipe never
holds up an answer; a line that cannot be written is counted in
``mlops_guard_sink_failures_total{sink="request_log"}``. Inputs are logged as a SHA-256 of the
body; raw rows only for a sampled share of requests, without the excluded columns.

Spans use the OpenTelemetry SDK with a W3C TraceContext propagator: a request carrying a
``traceparent`` continues the caller's trace, and the answer's ``traceparent`` names the
server's span. Spans are exported over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, and kept nowhere otherwise.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Tracer

    from mlops_guard.metrics import GuardMetrics

__all__ = ["RequestLog", "Tracing"]

_log = logging.getLogger("mlops_guard.serving")
# Lines waiting for the writer; beyond this many a burst is dropped and counted, not queued
# without bound (a stuck disk must not eat the server's memory).
_QUEUE_LINES = 100_000


class RequestLog:
    """Writes one JSON line per request to a file or stdout, off the request path."""

    def __init__(self, path: Path | None, metrics: GuardMetrics) -> None:
        self.path = path
        self.metrics = metrics
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=_QUEUE_LINES)
        self._thread = threading.Thread(
            target=self._run, name="mlops-guard-request-log", daemon=True
        )
        self._thread.start()

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.metrics.sink_failures_total.labels(sink="request_log").inc()

    def _open(self) -> IO[bytes]:
        if self.path is None:
            return sys.stdout.buffer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path.open("ab")

    def _run(self) -> None:
        out: IO[bytes] | None = None
        while True:
            record = self._queue.get()
            if record is None:
                break
            lines = [record]
            # Everything queued goes out in one write: one system call per burst.
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                lines.append(more)
            try:
                if out is None:
                    out = self._open()
                out.write(b"".join(orjson.dumps(line, default=str) + b"\n" for line in lines))
                out.flush()
            except Exception as exc:  # noqa: BLE001 - observability never breaks serving
                self.metrics.sink_failures_total.labels(sink="request_log").inc(len(lines))
                _log.warning("request log write failed (%s); serving goes on", exc)
                out = None
        if out is not None and self.path is not None:
            out.close()

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=10)


class Tracing:
    """A tracer of its own (not the process-global provider) and the W3C propagator."""

    def __init__(self, service: str, processors: list[SpanProcessor] | None = None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider: TracerProvider = TracerProvider(
            resource=Resource.create({"service.name": service})
        )
        for processor in processors or _configured_exporters():
            self.provider.add_span_processor(processor)
        self.tracer: Tracer = self.provider.get_tracer("mlops_guard.serving")
        self.propagator = TraceContextTextMapPropagator()

    def shutdown(self) -> None:
        self.provider.shutdown()


def _configured_exporters() -> list[SpanProcessor]:
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return []
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return [BatchSpanProcessor(OTLPSpanExporter())]
