"""The clock-skew scenario: the product's trace check names it, ``trace adjust`` repairs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_guard.drills import RunRecord, run_scenario, scenario
from mlops_guard.runlog import read_runlog
from mlops_guard.traces import check_spans

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, *, guard: bool) -> RunRecord:
    return run_scenario(
        scenario("clock-skew"),
        run=1,
        seed=1,
        guard=guard,
        fixture=None,  # type: ignore[arg-type]
        workdir=tmp_path / "clock-skew",
    )


def test_the_trace_check_names_the_skew_and_the_adjusted_traces_are_causal(
    tmp_path: Path,
) -> None:
    record = _run(tmp_path, guard=True)
    assert record.error is None, record.to_dict()
    assert record.root_cause_correct, record.to_dict()
    assert record.detected_by == "traces.checked"
    lines = [
        e
        for e in read_runlog(Path(record.workdir) / "logs" / "runlog.jsonl")
        if e["event"] == "traces.checked"
    ]
    assert lines[0]["violation_count"] > 0
    # The check found the injected 5 ms on the model host, against the entry host.
    assert abs(lines[0]["offsets_ms"]["model"] - 5.0) < 0.1
    assert record.recovered
    adjusted = Path(record.evidence["adjusted"])
    assert check_spans([adjusted], reference="ingest").violation_count == 0
    assert record.evidence["violations_before"] > 0


def test_without_the_trace_check_the_skew_goes_unnoticed(tmp_path: Path) -> None:
    record = _run(tmp_path, guard=False)
    assert record.error is None
    assert not record.detected
    assert not record.recovered
    # The skewed spans were written all the same: only nobody looked.
    spans = Path(record.workdir) / "collector" / "spans-skewed.jsonl"
    assert check_spans([spans]).violation_count > 0
