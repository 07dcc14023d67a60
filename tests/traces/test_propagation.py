"""traceparent on MLflow's REST calls: a real ``http_request`` of MLflow's to a local HTTP
server that records the headers it got."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from mlops_guard.settings import GuardSettings
from mlops_guard.traces._propagation import TraceparentHeaders
from mlops_guard.traces._spans import guard_span


class _Recorder(http.server.BaseHTTPRequestHandler):
    headers_seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    _Recorder.headers_seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def provider_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry point registers the provider in an installed package; a source tree run may
    predate it, so the test puts it in MLflow's registry itself (and takes it out after)."""
    from mlflow.tracking.request_header import registry

    providers = [
        p
        for p in registry._request_header_provider_registry._registry
        if not isinstance(p, TraceparentHeaders)
    ]
    monkeypatch.setattr(
        registry._request_header_provider_registry, "_registry", [*providers, TraceparentHeaders()]
    )


@pytest.mark.usefixtures("provider_registered")
def test_mlflow_calls_inside_a_span_carry_traceparent(server: str, tmp_path: Path) -> None:
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    creds = MlflowHostCreds(server)
    http_request(creds, "/api/2.0/mlflow/experiments/list", "GET")
    with guard_span("registry.read", settings=GuardSettings(workdir=tmp_path), kind="client"):
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        http_request(creds, "/api/2.0/mlflow/experiments/list", "GET")
    outside, inside = _Recorder.headers_seen
    assert "traceparent" not in outside
    assert inside["traceparent"] == (
        f"00-{trace.format_trace_id(context.trace_id)}-{trace.format_span_id(context.span_id)}-01"
    )
