"""Jaeger's per-trace clock-skew adjuster, with its semantics and warning texts.

Jaeger (``cmd/query/app/querysvc/v2/adjuster/clockskew.go``) walks each trace from its roots.
A child on another host than its parent (or with no host) gets a delta computed against its
already adjusted parent: none when it fits inside the parent; when it lasted longer than the
parent, just enough to not start before it; otherwise it is centred in the parent (network
latency split evenly between request and response). Children on the parent's host inherit
the parent's delta, applied or not. A delta above ``max_delta`` is not applied and warned
about; ``max_delta == 0`` disables adjusting but still reports what it would have done.

It looks at one trace at a time, so it cannot tell a skewed clock from a slow network; the
estimates of :mod:`mlops_guard.traces._estimate` use all the traffic and are preferred where a
host has enough of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "WARNING_DISABLED",
    "WARNING_DUPLICATE_SPAN_ID",
    "WARNING_MAX_DELTA_EXCEEDED",
    "WARNING_MISSING_PARENT",
    "JaegerSpan",
    "adjust_trace",
    "adjusted_by_warning",
    "go_duration",
]

WARNING_DUPLICATE_SPAN_ID = "duplicate span IDs; skipping clock skew adjustment"
WARNING_MISSING_PARENT = "parent span ID={} is not in the trace; skipping clock skew adjustment"
WARNING_MAX_DELTA_EXCEEDED = (
    "max clock skew adjustment delta of {} exceeded; not applying calculated delta of {}"
)
WARNING_DISABLED = "clock skew adjustment disabled; not applying calculated delta of {}"
_WARNING_ADJUSTED = "This span's timestamps were adjusted by {}"


@dataclass
class JaegerSpan:
    """What the adjuster reads of a span; ``delta`` and ``warnings`` are what it decides."""

    span_id: str
    parent_id: str  # "" for a root
    host: str  # "" when the resource names no host
    start: int  # unix nanoseconds
    end: int
    delta: int = 0
    warnings: list[str] = field(default_factory=list)


def go_duration(nanoseconds: int) -> str:
    """A duration as Go's ``time.Duration.String`` prints it: ``35ms``, ``-1.5µs``, ``1m30s``."""
    if nanoseconds == 0:
        return "0s"
    size = abs(nanoseconds)
    if size < 1_000:
        text = f"{size}ns"
    elif size < 1_000_000:
        text = _decimal(size, 3) + "µs"
    elif size < 1_000_000_000:
        text = _decimal(size, 6) + "ms"
    else:
        seconds, fraction = divmod(size, 1_000_000_000)
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        text = _decimal(seconds * 1_000_000_000 + fraction, 9) + "s"
        if hours or minutes:
            text = f"{minutes}m{text}"
        if hours:
            text = f"{hours}h{text}"
    return "-" + text if nanoseconds < 0 else text


def _decimal(value: int, digits: int) -> str:
    whole, fraction = divmod(value, 10**digits)
    if not fraction:
        return str(whole)
    return f"{whole}.{str(fraction).rjust(digits, '0').rstrip('0')}"


def adjusted_by_warning(delta_ns: int) -> str:
    return _WARNING_ADJUSTED.format(go_duration(delta_ns))


def _skew(child: JaegerSpan, parent: JaegerSpan) -> int:
    parent_duration = parent.end - parent.start
    child_duration = child.end - child.start
    if child_duration > parent_duration:
        # Longer than its parent: async, or the parent timed out first. All that can be said
        # is that it did not start before the parent.
        return parent.start - child.start if child.start < parent.start else 0
    if child.start >= parent.start and child.end <= parent.end:
        return 0
    # Go's integer division truncates toward zero.
    gap = parent_duration - child_duration
    latency = gap // 2 if gap >= 0 else -((-gap) // 2)
    return parent.start + latency - child.start


def _apply(span: JaegerSpan, delta: int, max_delta_ns: int) -> None:
    if delta == 0:
        return
    if abs(delta) > max_delta_ns:
        if max_delta_ns == 0:
            span.warnings.append(WARNING_DISABLED.format(go_duration(delta)))
        else:
            span.warnings.append(
                WARNING_MAX_DELTA_EXCEEDED.format(go_duration(max_delta_ns), go_duration(delta))
            )
        return
    span.start += delta
    span.end += delta
    span.delta += delta
    span.warnings.append(adjusted_by_warning(delta))


def adjust_trace(spans: Sequence[JaegerSpan], max_delta_ns: int) -> None:
    """Adjust the spans of one trace in place, as Jaeger does (``delta``, ``warnings``, and
    ``start``/``end`` change; events move by ``delta``)."""
    nodes: dict[str, JaegerSpan] = {}
    for span in spans:
        if span.span_id in nodes:
            span.warnings.append(WARNING_DUPLICATE_SPAN_ID)
        else:
            nodes[span.span_id] = span
    children: dict[str, list[JaegerSpan]] = {}
    roots: list[JaegerSpan] = []
    for span in nodes.values():
        if not span.parent_id:
            roots.append(span)
        elif span.parent_id in nodes:
            children.setdefault(span.parent_id, []).append(span)
        else:
            span.warnings.append(WARNING_MISSING_PARENT.format(span.parent_id))
            roots.append(span)
    # An explicit stack: traces can be deeper than Python's recursion limit.
    stack: list[tuple[JaegerSpan, JaegerSpan | None, str, int]] = [
        (root, None, root.host, 0) for root in roots
    ]
    while stack:
        node, parent, skew_host, skew_delta = stack.pop()
        if parent is not None and (node.host != skew_host or not node.host):
            skew_host, skew_delta = node.host, _skew(node, parent)
        _apply(node, skew_delta, max_delta_ns)
        stack.extend(
            (child, node, skew_host, skew_delta) for child in children.get(node.span_id, ())
        )
