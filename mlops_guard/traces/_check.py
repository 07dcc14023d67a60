"""``trace check`` and ``trace adjust`` as library calls: read spans, count violations,
estimate clocks, write corrected spans."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlops_guard.traces._causality import (
    SpanIndex,
    find_pairs,
    samples_of,
    span_index,
    violations_of,
)
from mlops_guard.traces._estimate import ClockEstimate, HostClock, estimate_clocks
from mlops_guard.traces._jaeger import (
    WARNING_DISABLED,
    WARNING_DUPLICATE_SPAN_ID,
    WARNING_MAX_DELTA_EXCEEDED,
    WARNING_MISSING_PARENT,
    JaegerSpan,
    adjust_trace,
    adjusted_by_warning,
    go_duration,
)
from mlops_guard.traces._otlp import SpanTable, read_documents, read_spans, write_documents
from mlops_guard.traces._settings import TraceSettings

__all__ = [
    "ADJUSTMENT_ATTRIBUTE",
    "WARNINGS_ATTRIBUTE",
    "AdjustResult",
    "TraceReport",
    "adjust_spans",
    "check_spans",
    "check_table",
]

ADJUSTMENT_ATTRIBUTE = "clock_skew.adjustment_ns"
WARNINGS_ATTRIBUTE = "clock_skew.warnings"


@dataclass(frozen=True)
class TraceReport:
    """What ``trace check`` found: violation counts and each host's clock."""

    spans: int
    traces: int
    reference_host: str
    violations: dict[str, int]
    hosts: dict[str, HostClock]
    at_unix_nano: int
    warn_share: float = 0.5

    @property
    def violation_count(self) -> int:
        return sum(self.violations.values())

    @property
    def early_warnings(self) -> list[str]:
        """Hosts whose offset is past the warning share of their least one-way delay: no
        violation shows yet, but it will once the offset reaches the delay."""
        found = []
        for name, host in self.hosts.items():
            if host.offset_ns is None or not host.min_delay_ns or host.min_delay_ns <= 0:
                continue
            # min_delay_ns is measured after correction, so it is the true least delay.
            if abs(host.offset_ns) > self.warn_share * host.min_delay_ns:
                found.append(name)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "spans": self.spans,
            "traces": self.traces,
            "reference_host": self.reference_host,
            "violations": dict(self.violations),
            "hosts": {name: host.to_dict() for name, host in self.hosts.items()},
            "early_warnings": self.early_warnings,
        }


def _window_middle(table: SpanTable) -> int:
    return (int(table.start.min()) + int(table.end.max())) // 2


def check_table(
    table: SpanTable,
    *,
    reference: str | None = None,
    settings: TraceSettings | None = None,
    index: SpanIndex | None = None,
) -> tuple[TraceReport, ClockEstimate]:
    settings = settings or TraceSettings()
    index = span_index(table) if index is None else index
    pairs = find_pairs(table, index)
    violations = violations_of(table, pairs)
    at = _window_middle(table)
    span_counts = np.bincount(table.hosts, minlength=len(table.host_names)).tolist()
    estimate = estimate_clocks(
        samples_of(table, pairs),
        table.host_names,
        at_unix_nano=at,
        reference=reference,
        span_counts=span_counts,
        settings=settings,
    )
    report = TraceReport(
        spans=len(table),
        traces=table.trace_count,
        reference_host=estimate.reference_host,
        violations=violations,
        hosts=estimate.hosts,
        at_unix_nano=at,
        warn_share=settings.warn_share_of_min_delay,
    )
    return report, estimate


def check_spans(
    paths: Iterable[str | Path],
    *,
    reference: str | None = None,
    settings: TraceSettings | None = None,
) -> TraceReport:
    """Violations and clock estimates of the spans in OTLP JSON files."""
    return check_table(read_spans(paths), reference=reference, settings=settings)[0]


@dataclass
class AdjustResult:
    spans: int
    adjusted: int
    per_trace: int  # traces adjusted by Jaeger's per-trace rule
    before: TraceReport
    after_violations: dict[str, int]
    out: str
    warnings: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spans": self.spans,
            "adjusted": self.adjusted,
            "per_trace_traces": self.per_trace,
            "violations_before": dict(self.before.violations),
            "violations_after": dict(self.after_violations),
            "reference_host": self.before.reference_host,
            "hosts": {name: host.to_dict() for name, host in self.before.hosts.items()},
            "out": self.out,
        }


def _structure_warnings(table: SpanTable, index: SpanIndex) -> dict[int, list[str]]:
    """Jaeger's warnings about a trace's shape: duplicate span ids, parents not in the trace."""
    found: dict[int, list[str]] = {}
    rows = np.arange(len(table))
    first = index.find(table.trace_codes, table.span_numbers)
    for row in np.flatnonzero(first != rows).tolist():
        found.setdefault(row, []).append(WARNING_DUPLICATE_SPAN_ID)
    has_parent = np.flatnonzero(table.parent_numbers != 0)
    parent = index.find(table.trace_codes[has_parent], table.parent_numbers[has_parent])
    for row in has_parent[parent < 0].tolist():
        if row not in found:
            found[row] = [WARNING_MISSING_PARENT.format(table.parent_hex(row))]
    return found


def _set_attributes(span: dict[str, Any], delta: int, warnings: Sequence[str]) -> None:
    attributes = [
        a
        for a in span.get("attributes") or []
        if a.get("key") not in (ADJUSTMENT_ATTRIBUTE, WARNINGS_ATTRIBUTE)
    ]
    if delta:
        attributes.append({"key": ADJUSTMENT_ATTRIBUTE, "value": {"intValue": str(delta)}})
    if warnings:
        attributes.append(
            {
                "key": WARNINGS_ATTRIBUTE,
                "value": {"arrayValue": {"values": [{"stringValue": w} for w in warnings]}},
            }
        )
    span["attributes"] = attributes


@dataclass
class _Shifts:
    """Per span, how far its start and end move (ns); the clocks, for its events."""

    start: np.ndarray[Any, np.dtype[np.int64]]
    end: np.ndarray[Any, np.dtype[np.int64]]
    clocks: dict[int, HostClock]  # host index -> its clock, for hosts whose shift applied
    held: np.ndarray[Any, np.dtype[np.bool_]]  # spans whose shift was over the limit

    def at(self, row: int, host: int, unix_nano: int) -> int:
        """The shift of an event of ``row`` at ``unix_nano``."""
        clock = self.clocks.get(host)
        if clock is None or self.held[row]:
            return 0
        return -round(clock.offset_at(unix_nano))


def _host_shifts(
    table: SpanTable,
    estimate: ClockEstimate,
    max_delta_ns: int,
    warnings: dict[int, list[str]],
) -> tuple[_Shifts, np.ndarray[Any, np.dtype[np.bool_]]]:
    """Each timestamp's shift by its host's estimated offset at that time (a drifting clock
    also stretched the span), and which hosts have no estimate."""
    start = np.zeros(len(table), dtype=np.int64)
    end = np.zeros(len(table), dtype=np.int64)
    held = np.zeros(len(table), dtype=np.bool_)
    clocks: dict[int, HostClock] = {}
    unknown_host = np.zeros(len(table.host_names), dtype=np.bool_)
    for h, name in enumerate(table.host_names):
        clock = estimate.hosts.get(name)
        if clock is None or clock.offset_ns is None:
            unknown_host[h] = True
            continue
        clocks[h] = clock
        mine = np.flatnonzero(table.hosts == h)
        drift = (clock.drift_ppm or 0.0) * 1e-6
        first = -np.rint(clock.offset_ns + drift * (table.start[mine] - clock.at_unix_nano))
        last = -np.rint(clock.offset_ns + drift * (table.end[mine] - clock.at_unix_nano))
        too_big = np.abs(first) > max_delta_ns
        for row, value in zip(mine[too_big].tolist(), first[too_big].tolist(), strict=True):
            warnings.setdefault(row, []).append(_not_applied(int(value), max_delta_ns))
        first[too_big] = 0
        last[too_big] = 0
        held[mine[too_big]] = True
        start[mine] = first.astype(np.int64)
        end[mine] = last.astype(np.int64)
    for row in np.flatnonzero(start).tolist():
        warnings.setdefault(row, []).append(adjusted_by_warning(int(start[row])))
    return _Shifts(start, end, clocks, held), unknown_host


def _not_applied(delta: int, max_delta_ns: int) -> str:
    if max_delta_ns == 0:
        return WARNING_DISABLED.format(go_duration(delta))
    return WARNING_MAX_DELTA_EXCEEDED.format(go_duration(max_delta_ns), go_duration(delta))


def _per_trace(
    table: SpanTable,
    needs: np.ndarray[Any, np.dtype[np.bool_]],
    start: np.ndarray[Any, np.dtype[np.int64]],
    end: np.ndarray[Any, np.dtype[np.int64]],
    shifts: _Shifts,
    warnings: dict[int, list[str]],
    max_delta_ns: int,
) -> int:
    """Jaeger's per-trace adjustment of the traces holding a span that ``needs`` it; returns
    how many traces had spans on two hosts or more."""
    wanted = set(table.trace_codes[needs].tolist())
    if not wanted:
        return 0
    by_trace: dict[int, list[int]] = {}
    for row, code in enumerate(table.trace_codes.tolist()):
        if code in wanted:
            by_trace.setdefault(code, []).append(row)
    count = 0
    for trace_rows in by_trace.values():
        if len({int(table.hosts[row]) for row in trace_rows}) < 2:
            continue
        count += 1
        spans = [
            JaegerSpan(
                span_id=table.span_hex(row),
                parent_id=table.parent_hex(row),
                host=table.host_names[table.hosts[row]],
                start=int(start[row]),
                end=int(end[row]),
            )
            for row in trace_rows
        ]
        adjust_trace(spans, max_delta_ns)
        for row, span in zip(trace_rows, spans, strict=True):
            shifts.start[row] += span.delta
            shifts.end[row] += span.delta
            start[row], end[row] = span.start, span.end
            # The warnings about the trace's shape are already there, once.
            extra = [
                w
                for w in span.warnings
                if w != WARNING_DUPLICATE_SPAN_ID and not w.startswith("parent span ID=")
            ]
            if extra:
                warnings.setdefault(row, []).extend(extra)
    return count


def _rewrite(
    table: SpanTable,
    shifts: _Shifts,
    jaeger: np.ndarray[Any, np.dtype[np.int64]],
    warnings: dict[int, list[str]],
) -> None:
    for row, span in enumerate(table.objects):
        first, last = int(shifts.start[row]), int(shifts.end[row])
        if first or last:
            span["startTimeUnixNano"] = str(int(span["startTimeUnixNano"]) + first)
            span["endTimeUnixNano"] = str(int(span["endTimeUnixNano"]) + last)
            host = int(table.hosts[row])
            for event in span.get("events") or ():
                if "timeUnixNano" in event:
                    at = int(event["timeUnixNano"])
                    moved = shifts.at(row, host, at) + int(jaeger[row])
                    event["timeUnixNano"] = str(at + moved)
        if first or row in warnings:
            _set_attributes(span, first, warnings.get(row, ()))


def adjust_spans(
    paths: Iterable[str | Path],
    out: str | Path,
    *,
    max_delta_ms: float | None = None,
    per_trace: bool = False,
    reference: str | None = None,
    settings: TraceSettings | None = None,
) -> AdjustResult:
    """Write the spans of ``paths`` to ``out`` with each host's clock offset taken out.

    By default every span moves by its host's estimated offset at its start; traces with a
    span whose host has no estimate (and all traces with ``per_trace``) get Jaeger's
    per-trace adjustment on top. A shift above ``max_delta_ms`` is not applied (0: nothing is
    applied, everything is reported).
    """
    settings = settings or TraceSettings()
    max_delta_ns = round((settings.max_delta_ms if max_delta_ms is None else max_delta_ms) * 1e6)
    table, documents = read_documents(paths)
    index = span_index(table)
    before, estimate = check_table(table, reference=reference, settings=settings, index=index)
    warnings = _structure_warnings(table, index)
    if per_trace:
        zeros = np.zeros(len(table), dtype=np.int64)
        shifts = _Shifts(zeros, zeros.copy(), {}, np.zeros(len(table), dtype=np.bool_))
        needs = np.ones(len(table), dtype=np.bool_)
    else:
        shifts, unknown_host = _host_shifts(table, estimate, max_delta_ns, warnings)
        needs = unknown_host[table.hosts]
    by_host = shifts.start.copy()
    start, end = table.start + shifts.start, table.end + shifts.end
    per_trace_count = _per_trace(table, needs, start, end, shifts, warnings, max_delta_ns)
    jaeger = shifts.start - by_host  # what the per-trace rule added, for events
    _rewrite(table, shifts, jaeger, warnings)
    write_documents(documents, out)
    table.start, table.end = start, end
    after = violations_of(table, find_pairs(table, index))
    return AdjustResult(
        spans=len(table),
        adjusted=int(np.count_nonzero(shifts.start | shifts.end)),
        per_trace=per_trace_count,
        before=before,
        after_violations=after,
        out=str(out),
    )
