"""Jaeger's clock-skew adjuster, case by case, with the timestamps and warnings Jaeger's own
tests expect (``cmd/query/app/querysvc/v2/adjuster/clockskew_test.go``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mlops_guard.traces import JaegerSpan, adjust_trace
from mlops_guard.traces._jaeger import go_duration

MS = 1_000_000


@dataclass
class Case:
    description: str
    spans: list[tuple[int, int, int, int, str, int]]  # id, parent, start, duration, host, adjusted
    max_delta_ms: int = 0
    warning: str = ""  # the first warning Jaeger's test reads off any span
    events: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict)


CASES = [
    Case(
        "single span with bad parent",
        [(1, 99, 0, 100, "a", 0)],
        warning="parent span ID=0000000000000063 is not in the trace; skipping clock skew "
        "adjustment",
    ),
    Case("single span with empty host key", [(1, 0, 0, 100, "", 0)]),
    Case(
        "two spans with the same ID",
        [(1, 0, 0, 100, "a", 0), (1, 0, 0, 100, "a", 0)],
        warning="duplicate span IDs; skipping clock skew adjustment",
    ),
    Case("parent-child on the same host", [(1, 0, 0, 100, "a", 0), (2, 1, 10, 50, "a", 10)]),
    Case(
        "do not adjust parent-child on the same host",
        [(1, 0, 10, 100, "a", 10), (2, 1, 0, 50, "a", 0)],
    ),
    Case(
        "do not adjust child that fits inside parent",
        [(1, 0, 10, 100, "a", 10), (2, 1, 20, 50, "b", 20)],
    ),
    Case(
        "do not adjust child that is longer than parent",
        [(1, 0, 10, 100, "a", 10), (2, 1, 20, 150, "b", 20)],
    ),
    Case(
        "do not apply positive adjustment due to max skew adjustment",
        [(1, 0, 10, 100, "a", 10), (2, 1, 0, 50, "b", 0)],
        max_delta_ms=10,
        warning="max clock skew adjustment delta of 10ms exceeded; not applying calculated "
        "delta of 35ms",
    ),
    Case(
        "do not apply negative adjustment due to max skew adjustment",
        [(1, 0, 10, 100, "a", 10), (2, 1, 80, 50, "b", 80)],
        max_delta_ms=10,
        warning="max clock skew adjustment delta of 10ms exceeded; not applying calculated "
        "delta of -45ms",
    ),
    Case(
        "do not apply adjustment due to disabled adjustment",
        [(1, 0, 10, 100, "a", 10), (2, 1, 0, 50, "b", 0)],
        warning="clock skew adjustment disabled; not applying calculated delta of 35ms",
    ),
    Case(
        "adjust child starting before parent",
        [(1, 0, 10, 100, "a", 10), (2, 1, 0, 50, "b", 35)],
        max_delta_ms=1000,
        events={2: ([5, 10], [40, 45])},
    ),
    Case(
        "adjust child starting before parent even if it is longer",
        [(1, 0, 10, 100, "a", 10), (2, 1, 0, 150, "b", 10)],
        max_delta_ms=1000,
    ),
    Case(
        "adjust child ending after parent but being shorter (and its same-host grandchild)",
        [(1, 0, 10, 100, "a", 10), (2, 1, 50, 70, "b", 25), (3, 2, 60, 20, "b", 35)],
        max_delta_ms=1000,
        events={3: ([65, 70], [40, 45])},
    ),
]


def _span(span_id: int, parent: int, start: int, duration: int, host: str) -> JaegerSpan:
    return JaegerSpan(
        span_id=f"{span_id:016x}",
        parent_id=f"{parent:016x}" if parent else "",
        host=host,
        start=start * MS,
        end=(start + duration) * MS,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.description for c in CASES])
def test_jaeger_case(case: Case) -> None:
    spans = [_span(i, p, s, d, h) for i, p, s, d, h, _ in case.spans]
    adjust_trace(spans, case.max_delta_ms * MS)
    first_warning = ""
    for (span_id, _, start, duration, _, adjusted), span in zip(case.spans, spans, strict=True):
        assert span.start == adjusted * MS, case.description
        assert span.end == (adjusted + duration) * MS
        assert span.delta == (adjusted - start) * MS
        if not case.warning:
            # Jaeger: no warning on an unmoved span, exactly one ("adjusted by") on a moved one.
            assert len(span.warnings) == (0 if adjusted == start else 1)
            if adjusted != start:
                assert span.warnings == [
                    f"This span's timestamps were adjusted by {adjusted - start}ms"
                ]
        elif span.warnings and not first_warning:
            first_warning = span.warnings[0]
        if span_id in case.events:
            before, after = case.events[span_id]
            assert [t * MS + span.delta for t in before] == [t * MS for t in after]
    assert first_warning == case.warning


def test_skew_between_siblings_is_restored() -> None:
    """A different-host child is measured against its adjusted parent; same-host siblings
    inherit the parent's delta (Jaeger's TestClockSkewAdjusterRestoresSkewBetweenSiblings)."""
    spans = [
        _span(1, 0, 10, 100, "a"),
        _span(2, 1, 0, 50, "b"),
        _span(3, 2, 0, 10, "c"),
        _span(4, 2, 5, 10, "b"),
        _span(5, 2, 10, 10, "b"),
    ]
    adjust_trace(spans, 1000 * MS)
    assert [s.start // MS for s in spans] == [10, 35, 55, 40, 45]


def test_deep_trace_is_walked_without_recursion() -> None:
    """10,000 nested spans (Jaeger's TestClockSkewAdjusterDeepTrace): far past Python's
    recursion limit."""
    depth = 10_000
    spans = [_span(i, i - 1 if i > 1 else 0, 10, 100, "a") for i in range(1, depth)]
    spans.append(_span(depth, depth - 1, 0, 50, "b"))
    adjust_trace(spans, 1000 * MS)
    assert (spans[-1].start, spans[-1].end) == (35 * MS, 85 * MS)


def test_inherited_delta_is_passed_on_even_when_not_applied() -> None:
    """Over the limit, the child is not moved, and its same-host children are not either
    (they inherit the calculated delta, which is over the limit too)."""
    spans = [_span(1, 0, 10, 100, "a"), _span(2, 1, 0, 50, "b"), _span(3, 2, 5, 10, "b")]
    adjust_trace(spans, 10 * MS)
    assert [s.start // MS for s in spans] == [10, 0, 5]
    assert spans[2].warnings == [
        "max clock skew adjustment delta of 10ms exceeded; not applying calculated delta of 35ms"
    ]


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (35 * MS, "35ms"),
        (-45 * MS, "-45ms"),
        (1_500, "1.5µs"),
        (999, "999ns"),
        (2_000_001, "2.000001ms"),
        (1_500_000_000, "1.5s"),
        (90 * 10**9, "1m30s"),
        (3600 * 10**9, "1h0m0s"),
    ],
)
def test_durations_print_as_go_does(nanoseconds: int, text: str) -> None:
    assert go_duration(nanoseconds) == text
