"""Trace causality checks: spans from stages on different hosts, with clock-skew detection and
correction.

A few milliseconds of skew between hosts make traces causally wrong (children before parents,
consumers before producers) long before anything else looks off, and the first violations only
show once the skew passes the one-way network delay. These checks estimate each host's clock
offset and drift from the traffic itself, so the skew is seen before the traces lie::

    from mlops_guard.traces import check_spans, adjust_spans

    report = check_spans(["spans.json"])          # violations + per-host offsets
    report.violations["child_before_parent"]
    report.hosts["worker-2"].offset_ns            # positive: worker-2's clock is ahead
    adjust_spans(["spans.json"], "fixed.json")    # corrected OTLP JSON

``adjust_trace`` is Jaeger's per-trace clock-skew adjuster, for traces whose hosts have too
little traffic for an estimate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.traces._causality import ViolationKind
    from mlops_guard.traces._check import (
        ADJUSTMENT_ATTRIBUTE,
        WARNINGS_ATTRIBUTE,
        AdjustResult,
        TraceReport,
        adjust_spans,
        check_spans,
    )
    from mlops_guard.traces._estimate import (
        ClockEstimate,
        HostClock,
        min_delay_exchange,
        ntp_bounds,
        ntp_exchange,
        one_way_bounds,
    )
    from mlops_guard.traces._jaeger import JaegerSpan, adjust_trace
    from mlops_guard.traces._otlp import SpanTable, read_spans
    from mlops_guard.traces._scheduled import TRACE_CHECK_FLOW, check_recent_spans
    from mlops_guard.traces._settings import TraceSettings

__all__ = [
    # checking and correcting
    "check_spans",
    "adjust_spans",
    "TraceReport",
    "AdjustResult",
    "ViolationKind",
    "ADJUSTMENT_ATTRIBUTE",
    "WARNINGS_ATTRIBUTE",
    # the scheduled check of the last window
    "check_recent_spans",
    "TRACE_CHECK_FLOW",
    # clocks
    "ClockEstimate",
    "HostClock",
    "ntp_exchange",
    "ntp_bounds",
    "min_delay_exchange",
    "one_way_bounds",
    # Jaeger's per-trace adjuster
    "JaegerSpan",
    "adjust_trace",
    # input
    "SpanTable",
    "read_spans",
    "TraceSettings",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ViolationKind": "_causality",
        "check_recent_spans": "_scheduled",
        "TRACE_CHECK_FLOW": "_scheduled",
        "ADJUSTMENT_ATTRIBUTE": "_check",
        "WARNINGS_ATTRIBUTE": "_check",
        "AdjustResult": "_check",
        "TraceReport": "_check",
        "adjust_spans": "_check",
        "check_spans": "_check",
        "ClockEstimate": "_estimate",
        "HostClock": "_estimate",
        "min_delay_exchange": "_estimate",
        "ntp_bounds": "_estimate",
        "ntp_exchange": "_estimate",
        "one_way_bounds": "_estimate",
        "JaegerSpan": "_jaeger",
        "adjust_trace": "_jaeger",
        "SpanTable": "_otlp",
        "read_spans": "_otlp",
        "TraceSettings": "_settings",
    },
)
