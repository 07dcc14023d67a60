"""Training-job scenarios with the product's monitors and their default thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_guard.drills import RunRecord, run_scenario, scenario
from mlops_guard.runlog import read_runlog

pytestmark = pytest.mark.slow


def _run(name: str, tmp_path: Path, *, guard: bool = True) -> RunRecord:
    return run_scenario(
        scenario(name),
        run=1,
        seed=1,
        guard=guard,
        fixture=None,
        workdir=tmp_path / name,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("name", "event", "recovery"),
    [
        ("checkpoint-stall", "training.stalled", "training.recovered"),
        ("slow-storage", "training.slow_save", None),
        ("straggler", "training.straggler", "training.straggler_recovered"),
    ],
)
def test_monitor_names_the_fault_and_the_job_recovers(
    name: str, event: str, recovery: str | None, tmp_path: Path
) -> None:
    record = _run(name, tmp_path)
    assert record.error is None, record.to_dict()
    assert record.detected, record.to_dict()
    assert record.root_cause_correct, record.to_dict()
    assert record.detected_by == event
    assert record.recovered
    lines = read_runlog(Path(record.workdir) / "logs" / "runlog.jsonl")
    names = [e["event"] for e in lines]
    assert event in names
    if recovery is not None:
        assert names.index(recovery) > names.index(event)
    else:
        assert record.evidence["last_save_seconds"] < record.evidence["save_seconds_p50"] * 3


def test_without_monitors_a_stall_goes_undetected(tmp_path: Path) -> None:
    record: Any = _run("checkpoint-stall", tmp_path, guard=False)
    assert record.error is None
    assert not record.detected
    assert not record.recovered
    assert not (Path(record.workdir) / "logs" / "runlog.jsonl").exists()
