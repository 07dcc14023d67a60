"""Clock estimates: NTP and one-way formulas on hand-checked vectors, then generated
multi-host traces whose true clocks are known."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_guard.traces import (
    adjust_spans,
    check_spans,
    min_delay_exchange,
    ntp_bounds,
    ntp_exchange,
    one_way_bounds,
)
from mlops_guard.traces._synthetic import Clock, Hop
from tests.traces.conftest import true_offset_ms, write_traces

START = 1_760_000_000_000_000_000
NO_VIOLATIONS = {
    "child_before_parent": 0,
    "child_ends_after_parent": 0,
    "consumer_before_producer": 0,
    "negative_duration": 0,
}


def test_ntp_exchange_symmetric() -> None:
    # Server 30 ahead, 20 each way, 10 of work: t2 = 100 + 20 + 30, t4 = 160 - 30 + 20.
    assert ntp_exchange(100, 150, 160, 150) == (30.0, 40)
    assert ntp_bounds(100, 150, 160, 150) == (10, 50)


def test_ntp_exchange_asymmetric_is_off_by_half_the_asymmetry_but_bounded() -> None:
    # 10 out, 30 back: the midpoint is off by (10 - 30) / 2 = -10; the bounds still hold 30.
    assert ntp_exchange(100, 140, 150, 150) == (20.0, 40)
    lower, upper = ntp_bounds(100, 140, 150, 150)
    assert (lower, upper) == (0, 40)
    assert lower <= 30 <= upper


def test_min_delay_filter_takes_the_fastest_exchange() -> None:
    # Second exchange: 60 out (30 queued), 10 back: delay 50, midpoint skewed by queueing.
    assert min_delay_exchange([100, 200], [150, 260], [160, 270], [150, 260]) == (30.0, 40)


def test_one_way_bounds_both_directions() -> None:
    # A -> B: recv - send = 35 and 31; B -> A: sent at 100 on B's clock, received at 75 on A's.
    assert one_way_bounds([0, 10], [35, 41], [100], [75]) == (25, 31)
    assert one_way_bounds([0], [7]) == (float("-inf"), 7)


def _check(path: Path, reference: str = "a") -> dict:  # type: ignore[type-arg]
    return check_spans([path], reference=reference).to_dict()


def _adjusted_violations(path: Path, tmp_path: Path) -> dict[str, int]:
    out = tmp_path / f"{path.stem}-fixed.jsonl"
    result = adjust_spans([path], out)
    assert result.after_violations == NO_VIOLATIONS
    # Read back from the written file: the output itself is causal.
    return check_spans([out]).violations


def test_symmetric_paths_give_offset_and_drift(tmp_path: Path) -> None:
    clocks = {"a": Clock(), "b": Clock(2.5, 12.0), "c": Clock(-1.2, -7.0)}
    hops = [Hop("a", "b", delay_ms=0.8), Hop("b", "c", delay_ms=0.4)]
    path = write_traces(tmp_path / "sym.jsonl", hops, clocks, traces=3000, window_s=600)
    report = _check(path)
    middle = START + int(600 * 5e8)
    for host in ("b", "c"):
        found = report["hosts"][host]
        truth = true_offset_ms(clocks, host, "a", found["at_unix_nano"], middle)
        assert abs(found["offset_ms"] - truth) < 0.1, (host, found, truth)
        assert abs(found["drift_ppm"] - (clocks[host].drift_ppm - 0)) < 5, found
        assert found["lower_ms"] <= truth <= found["upper_ms"]
        assert found["method"] == "ntp/hull-lp"
    assert report["reference_host"] == "a"
    assert sum(report["violations"].values()) > 0  # 2.5 ms against 0.8 ms delays
    assert _adjusted_violations(path, tmp_path) == NO_VIOLATIONS


def test_asymmetric_path_truth_inside_interval(tmp_path: Path) -> None:
    clocks = {"a": Clock(), "b": Clock(1.0)}
    hops = [Hop("a", "b", delay_ms=2.0, back_delay_ms=0.2)]
    path = write_traces(tmp_path / "asym.jsonl", hops, clocks, traces=2000, window_s=60)
    found = _check(path)["hosts"]["b"]
    assert found["lower_ms"] <= 1.0 <= found["upper_ms"]
    # The midpoint is off by half the asymmetry, as NTP's is: the interval is what to trust.
    assert found["offset_ms"] == pytest.approx(1.0 + (2.0 - 0.2) / 2, abs=0.1)
    assert _adjusted_violations(path, tmp_path) == NO_VIOLATIONS


def test_offset_below_the_one_way_delay_is_found_before_violations(tmp_path: Path) -> None:
    clocks = {"a": Clock(), "b": Clock(3.0)}
    hops = [Hop("a", "b", delay_ms=3.5, jitter_ms=0.1)]
    path = write_traces(tmp_path / "early.jsonl", hops, clocks, traces=2000, window_s=60)
    report = check_spans([path], reference="a")
    assert report.violations == NO_VIOLATIONS  # nothing visible yet
    assert report.hosts["b"].offset_ns is not None
    assert abs(report.hosts["b"].offset_ns / 1e6 - 3.0) < 0.1
    assert report.early_warnings == ["b"]
    assert _adjusted_violations(path, tmp_path) == NO_VIOLATIONS


def test_no_warning_for_a_small_offset(tmp_path: Path) -> None:
    clocks = {"a": Clock(), "b": Clock(0.3)}
    path = write_traces(tmp_path / "ok.jsonl", [Hop("a", "b", delay_ms=3.5)], clocks, traces=500)
    assert check_spans([path], reference="a").early_warnings == []


def test_ring_of_one_way_messages(tmp_path: Path) -> None:
    """a -> b -> c -> a by messages only: no pair has traffic both ways, the ring does."""
    clocks = {"a": Clock(), "b": Clock(4.0), "c": Clock(-3.0)}
    hops = [
        Hop("a", "b", style="message", delay_ms=0.5, jitter_ms=0.1),
        Hop("b", "c", style="message", delay_ms=0.5, jitter_ms=0.1),
        Hop("c", "a", style="message", delay_ms=0.5, jitter_ms=0.1),
    ]
    path = write_traces(tmp_path / "ring.jsonl", hops, clocks, traces=3000, window_s=60)
    report = _check(path)
    assert report["violations"]["consumer_before_producer"] > 0
    for host, truth in (("b", 4.0), ("c", -3.0)):
        found = report["hosts"][host]
        assert abs(found["offset_ms"] - truth) < 0.1, found
        assert found["lower_ms"] <= truth <= found["upper_ms"]
        assert found["method"].startswith("one-way/")
    assert _adjusted_violations(path, tmp_path) == NO_VIOLATIONS


def test_one_way_chain_is_bounded_on_one_side(tmp_path: Path) -> None:
    """a -> b by messages only: b's clock can only be said to be at most so far ahead."""
    clocks = {"a": Clock(), "b": Clock(-2.0)}
    hops = [Hop("a", "b", style="message", delay_ms=0.5)]
    path = write_traces(tmp_path / "chain.jsonl", hops, clocks, traces=500, window_s=60)
    found = _check(path)["hosts"]["b"]
    assert found["lower_ms"] is None
    assert found["upper_ms"] >= -2.0
    assert found["method"] == "one-way/one-way-bound"
    assert _adjusted_violations(path, tmp_path) == NO_VIOLATIONS


def test_reference_defaults_to_the_busiest_host(tmp_path: Path) -> None:
    clocks = {"a": Clock(), "b": Clock(1.0), "c": Clock(2.0)}
    hops = [Hop("a", "b"), Hop("b", "c")]
    path = write_traces(tmp_path / "busy.jsonl", hops, clocks, traces=300)
    report = check_spans([path])
    assert report.reference_host == "b"
    assert report.hosts["b"].method == "reference"
    assert abs(report.hosts["a"].offset_ns / 1e6 + 1.0) < 0.1  # type: ignore[operator]


def test_a_consumer_linked_to_its_producer_is_a_pair(tmp_path: Path) -> None:
    """Batch consumers start their own trace and link the producer (OpenTelemetry's messaging
    conventions): the link makes the pair, across traces."""
    import json

    def resource(host: str, spans: list[dict]) -> dict:  # type: ignore[type-arg]
        attributes = [{"key": "host.name", "value": {"stringValue": host}}]
        return {"resource": {"attributes": attributes}, "scopeSpans": [{"spans": spans}]}

    producer = {
        "traceId": "1" * 32,
        "spanId": "a" * 16,
        "kind": 4,
        "startTimeUnixNano": "2000",
        "endTimeUnixNano": "2500",
    }
    consumer = {
        "traceId": "2" * 32,
        "spanId": "b" * 16,
        "kind": "SPAN_KIND_CONSUMER",
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": "1800",
        "links": [{"traceId": "1" * 32, "spanId": "a" * 16}],
    }
    path = tmp_path / "linked.json"
    path.write_text(
        json.dumps({"resourceSpans": [resource("p", [producer]), resource("c", [consumer])]})
    )
    report = check_spans([path])
    assert report.violations["consumer_before_producer"] == 1
    assert report.traces == 2
