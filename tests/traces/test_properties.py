"""Properties over random clocks and networks: whatever the offsets, drifts and (asymmetric)
delays, the true offset lies inside the reported interval, and ``trace adjust`` leaves no
violation."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_guard.traces import adjust_spans, check_spans
from mlops_guard.traces._synthetic import Clock, Hop
from tests.traces.conftest import true_offset_ms, write_traces

START = 1_760_000_000_000_000_000
WINDOW = 120.0

clock = st.builds(
    Clock,
    offset_ms=st.floats(-10, 10),
    drift_ppm=st.floats(-50, 50),
)
hop_style = st.sampled_from(["rpc", "message"])
delay = st.floats(0.05, 3.0)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    clocks=st.tuples(clock, clock),
    styles=st.tuples(hop_style, hop_style, hop_style),
    delays=st.tuples(delay, delay, delay, delay),
    seed=st.integers(0, 1000),
)
def test_interval_holds_the_truth_and_adjust_leaves_no_violation(
    tmp_path_factory: object,
    clocks: tuple[Clock, Clock],
    styles: tuple[str, str, str],
    delays: tuple[float, float, float, float],
    seed: int,
) -> None:
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="traces-prop-"))
    truth = {"a": Clock(), "b": clocks[0], "c": clocks[1]}
    hops = [
        Hop("a", "b", style=styles[0], delay_ms=delays[0], back_delay_ms=delays[1]),
        Hop("b", "c", style=styles[1], delay_ms=delays[2]),
        Hop("c", "a", style=styles[2], delay_ms=delays[3]),
    ]
    path = write_traces(directory / "s.jsonl", hops, truth, traces=300, window_s=WINDOW, seed=seed)
    report = check_spans([path], reference="a")
    middle = START + int(WINDOW * 5e8)
    for host in ("b", "c"):
        found = report.hosts[host]
        expected = true_offset_ms(truth, host, "a", found.at_unix_nano, middle)
        if found.lower_ns is not None:
            assert found.lower_ns / 1e6 <= expected + 1e-6, (host, found, expected)
        if found.upper_ns is not None:
            assert expected - 1e-6 <= found.upper_ns / 1e6, (host, found, expected)
    result = adjust_spans([path], directory / "out.jsonl", reference="a")
    assert sum(result.after_violations.values()) == 0, (result.after_violations, report.hosts)
