"""W3C trace context on the calls mlops-guard makes through MLflow.

:class:`TraceparentHeaders` is an MLflow request-header provider (registered through the
``mlflow.request_header_provider`` entry point): every REST call MLflow makes while a span is
current (a guarded stage, an alias move) carries ``traceparent``, so a traced MLflow server
or a proxy in front of it continues the pipeline's trace. Outside a span it adds nothing.
"""

from __future__ import annotations

__all__ = ["TraceparentHeaders"]


class TraceparentHeaders:
    """MLflow's ``RequestHeaderProvider`` protocol: ``in_context`` and ``request_headers``."""

    def in_context(self) -> bool:
        from opentelemetry import trace

        return bool(trace.get_current_span().get_span_context().is_valid)

    def request_headers(self) -> dict[str, str]:
        from mlops_guard.traces._spans import inject_traceparent

        headers: dict[str, str] = {}
        inject_traceparent(headers)
        return headers
