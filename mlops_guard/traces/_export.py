"""Where mlops-guard's own spans go: OTLP over HTTP when an endpoint is set, else OTLP JSON
lines in the working directory (the format ``trace check`` reads, as the collector's file
exporter writes it).

The endpoint is ``MLOPS_GUARD_OTLP_ENDPOINT`` (the collector's base URL; ``/v1/traces`` is
added) or the standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``
read by the OpenTelemetry exporter itself. The SDK is imported on first use.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult

__all__ = [
    "OtlpJsonFileExporter",
    "build_provider",
    "otlp_json_document",
    "spans_file",
]

_log = logging.getLogger("mlops_guard.traces")
_ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def _hex(value: str) -> str:
    return base64.b64decode(value).hex()


def otlp_json_document(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """SDK spans as one OTLP JSON document (ids in hex, as OTLP JSON wants; protobuf's own
    JSON mapping would write them in base64)."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    document: dict[str, Any] = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource in document.get("resourceSpans", ()):
        for scope in resource.get("scopeSpans", ()):
            for span in scope.get("spans", ()):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = _hex(span[key])
                for link in span.get("links", ()):
                    for key in ("traceId", "spanId"):
                        if link.get(key):
                            link[key] = _hex(link[key])
    return document


def spans_file(directory: Path, service: str) -> Path:
    """This process's span file: one per host, service and process, so writers never share."""
    name = f"spans-{socket.gethostname()}-{service}-{os.getpid()}.jsonl"
    return directory / "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class OtlpJsonFileExporter:
    """A span exporter writing one OTLP JSON document per batch, one per line.

    A write that fails is logged and counted in ``mlops_guard_sink_failures_total{sink=
    "otlp_file"}``; it never raises into the pipeline.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        import orjson
        from opentelemetry.sdk.trace.export import SpanExportResult

        try:
            line = orjson.dumps(otlp_json_document(spans)) + b"\n"
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("ab") as stream:
                    stream.write(line)
        except Exception as exc:  # noqa: BLE001 - observability never breaks the job
            from mlops_guard.metrics import get_metrics

            get_metrics().sink_failures_total.labels(sink="otlp_file").inc()
            _log.warning("spans not written to %s (%s: %s)", self.path, type(exc).__name__, exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _endpoint(environ: Mapping[str, str]) -> str | None:
    own = environ.get("MLOPS_GUARD_OTLP_ENDPOINT")
    if own:
        return own.rstrip("/") + "/v1/traces"
    return None


def build_provider(
    *,
    service: str,
    directory: Path,
    host: str | None = None,
    attributes: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    batch: bool = True,
    id_generator: Any = None,
) -> TracerProvider:
    """A tracer provider whose resource names the host and service, exporting over OTLP/HTTP
    when an endpoint is configured and to :func:`spans_file` in ``directory`` otherwise."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    environ = os.environ if environ is None else environ
    resource = Resource.create(
        {
            "host.name": host or socket.gethostname(),
            "service.name": service,
            **(attributes or {}),
        }
    )
    provider = (
        TracerProvider(resource=resource)
        if id_generator is None
        else TracerProvider(resource=resource, id_generator=id_generator)
    )
    endpoint = _endpoint(environ)
    exporter: Any
    if endpoint or any(environ.get(name) for name in _ENDPOINT_VARIABLES):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    else:
        exporter = OtlpJsonFileExporter(spans_file(directory, service))
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    return provider
