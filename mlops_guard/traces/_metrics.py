"""A trace check's figures as Prometheus metrics (the alert rule warns on them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.traces._check import TraceReport

__all__ = ["record_report"]


def record_report(report: TraceReport, metrics: GuardMetrics | None = None) -> None:
    """Set each host's offset, uncertainty and least delay; count the violations."""
    from mlops_guard.metrics import get_metrics

    metrics = metrics or get_metrics()
    for name, host in report.hosts.items():
        if host.offset_ns is None:
            continue
        metrics.clock_offset_seconds.labels(host=name).set(host.offset_ns / 1e9)
        if host.lower_ns is not None and host.upper_ns is not None:
            metrics.clock_offset_uncertainty_seconds.labels(host=name).set(
                (host.upper_ns - host.lower_ns) / 2e9
            )
        if host.min_delay_ns is not None:
            metrics.clock_min_one_way_delay_seconds.labels(host=name).set(
                max(host.min_delay_ns, 0.0) / 1e9
            )
    for kind, count in report.violations.items():
        # Touch every kind, so a rate() over it exists before the first violation.
        metrics.causality_violations_total.labels(kind=kind).inc(count)
