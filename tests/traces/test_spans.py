"""mlops-guard's own spans: every guarded stage writes one (host, service, run ids) that
``trace check`` reads; nesting, W3C traceparent in and out, and OTLP over HTTP to a real
local receiver."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mlops_guard._stage import StageRecorder
from mlops_guard.runlog import bind
from mlops_guard.settings import GuardSettings
from mlops_guard.traces import check_spans
from mlops_guard.traces._spans import (
    extract_traceparent,
    flush_spans,
    guard_span,
    inject_traceparent,
)


def _spans(workdir: Path) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """(resource attributes, span) of every span written under ``workdir/traces``."""
    found = []
    for path in sorted((workdir / "traces").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            for resource in json.loads(line)["resourceSpans"]:
                attributes = {
                    a["key"]: a["value"].get("stringValue")
                    for a in resource["resource"]["attributes"]
                }
                for scope in resource["scopeSpans"]:
                    found.extend((attributes, span) for span in scope["spans"])
    return found


def _attrs(span: dict[str, Any]) -> dict[str, str]:
    return {a["key"]: a["value"].get("stringValue") for a in span.get("attributes", [])}


def test_a_stage_writes_a_span_trace_check_reads(tmp_path: Path) -> None:
    settings = GuardSettings(workdir=tmp_path)
    run_trace = "ab" * 16
    with bind(trace_id=run_trace, flow_run_id="00000000-0000-0000-0000-000000000001"):
        with (
            StageRecorder("fit", flow="train", model="churn", settings=settings),
            StageRecorder("save", flow="train", model="churn", settings=settings),
        ):
            pass
        with (
            pytest.raises(ValueError, match="broke"),
            StageRecorder("score", flow="train", model="churn", settings=settings),
        ):
            raise ValueError("broke")
    spans = _spans(tmp_path)
    by_name = {span["name"]: (resource, span) for resource, span in spans}
    assert set(by_name) == {"fit", "save", "score"}
    resource, fit = by_name["fit"]
    assert resource["host.name"]
    assert resource["service.name"] == "mlops-guard"
    assert fit["traceId"] == run_trace  # the run log's trace id: lines and spans join
    assert _attrs(fit)["mlops_guard.flow"] == "train"
    assert _attrs(fit)["mlops_guard.model"] == "churn"
    assert _attrs(fit)["mlops_guard.flow_run_id"] == "00000000-0000-0000-0000-000000000001"
    assert by_name["save"][1]["parentSpanId"] == fit["spanId"]
    assert by_name["score"][1]["status"]["code"] == 2  # STATUS_CODE_ERROR
    report = check_spans(sorted((tmp_path / "traces").glob("*.jsonl")))
    assert report.spans == 3
    assert report.traces == 1


def test_spans_nest_under_the_current_span(tmp_path: Path) -> None:
    """Inside an orchestrator's span (Prefect's flow and task spans when it emits them) the
    stage span is its child. The outer span here comes from a provider of the test's own."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    outer_tracer = TracerProvider().get_tracer("orchestrator")
    with (
        outer_tracer.start_as_current_span("task run") as outer,
        StageRecorder("fit", flow="train", settings=GuardSettings(workdir=tmp_path)),
    ):
        pass
    ((_, span),) = _spans(tmp_path)
    context = outer.get_span_context()
    assert span["traceId"] == trace.format_trace_id(context.trace_id)
    assert span["parentSpanId"] == trace.format_span_id(context.span_id)


def test_traceparent_crosses_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    monkeypatch.setenv("TRACEPARENT", parent)
    settings = GuardSettings(workdir=tmp_path)
    headers: dict[str, str] = {}
    with guard_span("registry.move", settings=settings, kind="client"):
        inject_traceparent(headers)
    ((_, span),) = _spans(tmp_path)
    assert span["traceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert span["parentSpanId"] == "b7ad6b7169203331"
    assert span["kind"] == 3
    # What the callee gets: this span as its parent.
    assert headers["traceparent"] == f"00-{span['traceId']}-{span['spanId']}-01"
    from opentelemetry import trace

    received = trace.get_current_span(extract_traceparent({"Traceparent": headers["traceparent"]}))
    assert trace.format_span_id(received.get_span_context().span_id) == span["spanId"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def otlp_receiver() -> Iterator[str]:
    _Receiver.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_spans_go_over_otlp_when_an_endpoint_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, otlp_receiver: str
) -> None:
    """A real OTLP/HTTP exporter posting protobuf to a local HTTP receiver (no collector
    binary here; the receiver decodes what a collector would)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    monkeypatch.setenv("MLOPS_GUARD_OTLP_ENDPOINT", otlp_receiver)
    with StageRecorder("fit", flow="train", settings=GuardSettings(workdir=tmp_path)):
        pass
    assert flush_spans()
    assert not list((tmp_path / "traces").glob("*.jsonl"))
    ((path, body),) = _Receiver.bodies
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    (resource,) = request.resource_spans
    names = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert names["service.name"] == "mlops-guard"
    assert names["host.name"]
    assert [s.name for s in resource.scope_spans[0].spans] == ["fit"]


def test_a_broken_span_file_never_fails_the_stage(tmp_path: Path) -> None:
    from mlops_guard.metrics import get_metrics

    (tmp_path / "traces").write_text("a file where the directory should be")
    before = get_metrics().sample("mlops_guard_sink_failures_total", {"sink": "otlp_file"}) or 0
    with StageRecorder("fit", flow="train", settings=GuardSettings(workdir=tmp_path)) as rec:
        pass
    assert rec.outcome.status == "completed"
    after = get_metrics().sample("mlops_guard_sink_failures_total", {"sink": "otlp_file"})
    assert after == before + 1
